import { Repeater, SlidingBuffer } from 'graphql-yoga';
import { adminOrganisation } from '../admin/access.js';
import type { ConnectionRegistry } from '../admin/registry.js';
import type { Viewer } from '../auth/viewer.js';
import type { EventBus, Unlisten } from '../events/bus.js';
import { topics } from '../events/topics.js';
import type { DeploymentStatus } from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import type { StatusCounters } from './counters.js';
import { MAX_LISTED_CONNECTIONS, type StatusRequest, type StatusSample } from './events.js';
import { summarise, type InstanceView } from './snapshot.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** The status page's feed on one server instance (see {@link createStatusService}). */
export type StatusService = ReturnType<typeof createStatusService>;

/**
 * What feeds the operators' status page: `deploymentStatus`, one
 * snapshot of the admin's organisation every `intervalMs`, across every
 * instance of the deployment.
 *
 * Nothing is gathered while nobody watches. A watching subscription asks
 * every instance (a request on one internal channel) each interval; each
 * instance answers on that organisation's status channel with its own
 * figures about that organisation alone: its connections (the admin API's
 * registry), their subscriptions, and its delivery and slow-consumer
 * tallies (./counters.ts). The watcher keeps the latest answer of each
 * instance, drops an instance silent for three intervals, and works out
 * deliveries per second from an instance's consecutive answers.
 */
export function createStatusService(options: {
  bus: EventBus;
  logger: Logger;
  registry: Pick<ConnectionRegistry, 'instance' | 'list'>;
  counters: StatusCounters;
  intervalMs: number;
}) {
  const { bus, logger, registry, counters, intervalMs } = options;
  let unlisten: Unlisten | undefined;

  const answer = ({ orgId }: StatusRequest) => {
    const connections = registry.list(orgId);
    const sample: StatusSample = {
      instance: registry.instance,
      at: new Date().toISOString(),
      connectionCount: connections.length,
      connections: connections.slice(0, MAX_LISTED_CONNECTIONS),
      subscriptions: connections.reduce((sum, connection) => sum + connection.subscriptions, 0),
      ...counters.of(orgId),
    };
    bus
      .publish(topics.status(orgId), sample)
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'status: sample not sent'));
  };

  return {
    /** Answers status requests from now on. */
    async start(): Promise<void> {
      unlisten = await bus.listen(topics.statusRequests(), answer);
    },

    /**
     * Snapshots of the admin's organisation: the first as soon as the
     * instances have answered, then one every interval, until `signal`
     * aborts (the connection closes or loses access) or the client stops.
     * `FORBIDDEN` for anyone but an admin.
     */
    watch(viewer: Viewer, signal?: AccessSignal): AsyncIterableIterator<DeploymentStatus> {
      const orgId = adminOrganisation(viewer);
      // A page that does not keep up sees the latest snapshot, not a backlog.
      return new Repeater<DeploymentStatus>(async (push, stop) => {
        const views = new Map<string, InstanceView>();
        const onSample = (sample: StatusSample) => {
          // Samples come over Redis: a flood of made-up instance ids cannot grow this without bound.
          if (!views.has(sample.instance) && views.size >= MAX_INSTANCES) return;
          const previous = views.get(sample.instance)?.sample;
          views.set(sample.instance, { sample, previous });
        };
        const ask = () =>
          bus
            .publish(topics.statusRequests(), { orgId })
            .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'status: request not sent'));
        const tick = () => {
          void push(summarise(views, Date.now(), 3 * intervalMs));
          void ask();
        };
        const stopped = () => void stop();
        signal?.addEventListener('abort', stopped, { once: true });
        let off: Unlisten | undefined;
        let first: NodeJS.Timeout | undefined;
        let every: NodeJS.Timeout | undefined;
        try {
          off = await bus.listen(topics.status(orgId), onSample);
          void ask();
          first = setTimeout(tick, Math.min(intervalMs, FIRST_SNAPSHOT_MS));
          every = setInterval(tick, intervalMs);
        } catch (error) {
          stop(error);
        }
        if (signal?.aborted) stop();
        await stop;
        clearTimeout(first);
        clearInterval(every);
        off?.();
        signal?.removeEventListener('abort', stopped);
      }, new SlidingBuffer(1));
    },

    /** Stops answering. */
    close(): void {
      unlisten?.();
      unlisten = undefined;
    },
  };
}

/** Instances one snapshot shows at most. */
const MAX_INSTANCES = 1000;

/** How long the first snapshot waits for the instances' answers. */
const FIRST_SNAPSHOT_MS = 300;
