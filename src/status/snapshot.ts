import type { DeploymentStatus, InstanceStatus } from '../generated/graphql.js';
import type { StatusSample } from './events.js';

/** The latest answer of one instance, and the one before it (for rates). */
export interface InstanceView {
  sample: StatusSample;
  previous?: StatusSample;
}

/**
 * One snapshot of an organisation from the instances' latest answers:
 * per instance, and summed. An instance whose latest answer is older than
 * `staleMs` is left out (stopped, or cut off from Redis).
 */
export function summarise(views: Map<string, InstanceView>, now: number, staleMs: number): DeploymentStatus {
  for (const [instance, view] of views) if (now - Date.parse(view.sample.at) > staleMs) views.delete(instance);
  const instances = [...views.values()].map(instanceStatus).sort((a, b) => a.instance.localeCompare(b.instance));
  const connections = [...views.values()]
    .flatMap(({ sample }) => sample.connections)
    .sort((a, b) => a.openedAt.localeCompare(b.openedAt))
    .map((found) => ({ ...found, transport: found.transport === 'sse' ? ('SSE' as const) : ('WEBSOCKET' as const) }));
  return {
    occurredAt: new Date(now).toISOString(),
    instances,
    connections: sum(instances, 'connections'),
    subscriptions: sum(instances, 'subscriptions'),
    deliveriesPerSecond: instances.reduce((total, instance) => total + (instance.deliveriesPerSecond ?? 0), 0),
    slowConsumers: sum(instances, 'slowConsumers'),
    openConnections: connections,
  };
}

function instanceStatus({ sample, previous }: InstanceView): InstanceStatus {
  const seconds = previous ? (Date.parse(sample.at) - Date.parse(previous.at)) / 1000 : 0;
  return {
    instance: sample.instance,
    seenAt: sample.at,
    connections: sample.connectionCount,
    subscriptions: sample.subscriptions,
    deliveriesPerSecond:
      previous && seconds > 0 && sample.delivered >= previous.delivered
        ? Math.round(((sample.delivered - previous.delivered) / seconds) * 10) / 10
        : null,
    slowConsumers: sample.slowConsumers,
  };
}

function sum(instances: InstanceStatus[], field: 'connections' | 'subscriptions' | 'slowConsumers'): number {
  return instances.reduce((total, instance) => total + instance[field], 0);
}
