import type { Viewer } from '../auth/viewer.js';
import type { PresenceConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import type { Presence } from '../generated/graphql.js';
import { newId, now } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';
import { presenceScope } from './access.js';
import { isOnline, presenceId, type PresenceRecord } from './model.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** The shared deadline set of live instances, renewed by each one's heartbeat. */
const INSTANCES = 'presence-instances';

/** Presence: who is online, across every instance. */
export type PresenceService = ReturnType<typeof createPresenceService>;

/**
 * Presence across instances. Each instance counts its own WebSocket
 * connections per user and writes that count into the user's shared record
 * (`connections[instanceId]`) with a compare-and-set, so the instance whose
 * write flips the user between online and offline is the one that
 * publishes `PresenceChanged`: exactly once per transition, however many
 * tabs and instances.
 *
 * Each instance renews a heartbeat deadline every `heartbeatMs` and, on the
 * same beat, sweeps instances whose deadline passed (`lapseMs` without a
 * heartbeat): their counts are removed from the records they touched (an
 * index per instance and organisation lists them, and a deployment-level
 * index per instance the organisations it counted users of), which
 * publishes the offline transitions. A user's record and the per-instance
 * index are in their organisation's scope (`storage.forOrg`), so on a Redis
 * Cluster presence writes go to the organisations' slots; the deployment's
 * slot takes the heartbeats and one write per instance and organisation.
 * An instance found to have been swept while alive (a long pause) writes
 * its counts again.
 */
export function createPresenceService(options: {
  storage: Storage;
  bus: EventBus;
  logger: Logger;
  presence: PresenceConfig;
  instanceId?: string;
  /** False in a process that serves no connections (a publisher): no heartbeat, no sweep. */
  background?: boolean;
}) {
  const { storage, bus, logger, presence, instanceId = newId(), background = true } = options;
  const records = (orgId: string) => storage.forOrg(orgId).collection<PresenceRecord>('presence');
  /** Deployment-level: per instance, the organisations whose users it counted (their ids, in an index). */
  const orgsCounted = storage.collection<{ id: string }>('presence-orgs');
  const instanceIndex = (instance: string) => `instance:${instance}`;
  /** Organisations this instance has registered in {@link orgsCounted} since its heartbeat was last fresh. */
  const registered = new Set<string>();

  /** This instance's truth: open connections per user. */
  const local = new Map<string, { orgId: string; userId: string; count: number }>();
  /** Per-user write chains, so one user's writes from this instance apply in order. */
  const chains = new Map<string, Promise<void>>();
  /** Users whose last write failed (Redis away): written again on the next heartbeat. */
  const dirty = new Set<string>();
  let closed = false;

  /** `PresenceChanged` for a record whose user just went online or offline. */
  const changed = (record: PresenceRecord) => ({
    channel: topics.presence(record.orgId, record.userId),
    payload: {
      __typename: 'PresenceChanged' as const,
      userId: record.userId,
      online: isOnline(record),
      lastSeenAt: record.lastSeenAt ?? now(),
      occurredAt: now(),
      flip: record.flips ?? 0,
    },
  });

  /**
   * Sets `instance`'s count in a user's record; a change that flips them
   * online or offline records its `PresenceChanged` in the same write (one
   * round trip fewer per connect than a publish after it).
   */
  const setCount = async (orgId: string, id: string, instance: string, count: number) => {
    await records(orgId).update(
      id,
      (record) => {
        if ((record.connections[instance] ?? 0) === count) return undefined;
        const connections = { ...record.connections };
        if (count > 0) connections[instance] = count;
        else delete connections[instance];
        const flipped = isOnline(record) !== isOnline({ connections });
        const flips = (record.flips ?? 0) + (flipped ? 1 : 0);
        return { ...record, connections, lastSeenAt: flipped ? now() : record.lastSeenAt, flips };
      },
      undefined,
      (after, before) => (isOnline(before) !== isOnline(after) ? [changed(after)] : []),
    );
  };

  /** Writes this instance's current count for a user. */
  const write = async (id: string) => {
    // The first heartbeat registers this instance, so a sweep can find what it counts.
    await started;
    const entry = local.get(id);
    if (!entry) return;
    const { orgId, count } = entry;
    const scoped = records(orgId);
    if (count > 0) {
      // Organisation, then user, indexed before counted: a sweep of this instance always finds what it counted.
      if (!registered.has(orgId)) {
        await orgsCounted.index(instanceIndex(instanceId), [{ id: orgId, score: Date.now() }]);
        registered.add(orgId);
      }
      // A new record is indexed with its insert; one that exists is indexed on its own.
      const index = instanceIndex(instanceId);
      const created = { id, orgId, userId: entry.userId, connections: {}, lastSeenAt: null };
      if (!(await scoped.insert(created, [{ index, score: Date.now() }]))) {
        await scoped.index(index, [{ id, score: Date.now() }]);
      }
    }
    await setCount(orgId, id, instanceId, count);
    if (count === 0) {
      await scoped.unindex(instanceIndex(instanceId), [id]);
      if (entry.count === 0) local.delete(id);
    }
  };

  const sync = (id: string) => {
    const next = (chains.get(id) ?? Promise.resolve())
      .then(() => write(id))
      .then(
        () => void dirty.delete(id),
        (error: unknown) => {
          dirty.add(id);
          logger.warn({ err: (error as Error).message }, 'presence write failed; retrying on the next heartbeat');
        },
      );
    chains.set(id, next);
    void next.finally(() => {
      if (chains.get(id) === next) chains.delete(id);
    });
    return next;
  };

  /** Takes a dead instance's connections out of every record it counted in. */
  const sweepInstance = async (instance: string) => {
    const orgs = await orgsCounted.ids(instanceIndex(instance));
    let users = 0;
    for (const orgId of orgs) {
      const scoped = records(orgId);
      const ids = await scoped.ids(instanceIndex(instance));
      for (const id of ids) await setCount(orgId, id, instance, 0);
      await scoped.unindex(instanceIndex(instance), ids);
      users += ids.length;
    }
    await orgsCounted.unindex(instanceIndex(instance), orgs);
    await storage.unschedule(INSTANCES, instance);
    if (users > 0) logger.info({ instance, users }, 'presence: swept a silent instance');
  };

  let beats = 0;
  const heartbeat = async () => {
    const fresh = await storage.schedule(INSTANCES, instanceId, presence.lapseMs);
    // Swept while alive (a long pause): register and count everyone again.
    if (fresh && beats > 0) {
      registered.clear();
      for (const id of local.keys()) dirty.add(id);
    }
    beats++;
    await Promise.all([...dirty].map(sync));
    for (const instance of await storage.takeDue(INSTANCES, { limit: 10, retryMs: presence.lapseMs })) {
      if (instance === instanceId) await storage.schedule(INSTANCES, instanceId, presence.lapseMs);
      else await sweepInstance(instance);
    }
  };
  let beating: Promise<void> | undefined;
  let lastError = '';
  const beat = () =>
    (beating ??= heartbeat()
      .then(() => void (lastError = ''))
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (message !== lastError) logger.warn({ err: message }, 'presence heartbeat failed; retrying');
        lastError = message;
      })
      .finally(() => (beating = undefined)));
  const timer = background ? setInterval(beat, presence.heartbeatMs) : undefined;
  timer?.unref();
  const started = background ? beat() : Promise.resolve();

  return {
    /** This instance's id in the shared presence state. */
    instanceId,

    /**
     * Counts an authenticated WebSocket connection as the viewer being
     * online. Resolves once that is written and any online transition is
     * published (so a connection is acknowledged only after its own
     * presence event has gone out), with the function to call once when it
     * closes. A failed write is retried on the next heartbeat.
     */
    async connect(viewer: Viewer): Promise<() => void> {
      if (closed) return () => {};
      const id = presenceId(viewer.orgId, viewer.id);
      let entry = local.get(id);
      if (!entry) local.set(id, (entry = { orgId: viewer.orgId, userId: viewer.id, count: 0 }));
      entry.count++;
      const written = sync(id);
      let released = false;
      const counted = entry;
      await written;
      return () => {
        if (released || closed) return;
        released = true;
        counted.count--;
        void sync(id);
      };
    },

    /** The current presence of users of the viewer's organisation. */
    async get(viewer: Viewer, userIds: readonly string[]): Promise<Presence[]> {
      const scope = presenceScope(viewer, userIds);
      const found = new Map(
        (await records(scope.orgId).getMany(scope.userIds.map((userId) => presenceId(scope.orgId, userId)))).map(
          (record) => [record.userId, record],
        ),
      );
      return scope.userIds.map((userId) => {
        const record = found.get(userId);
        return { userId, online: record ? isOnline(record) : false, lastSeenAt: record?.lastSeenAt ?? null };
      });
    },

    /** Transitions of users of the viewer's organisation. */
    subscribe(viewer: Viewer, userIds: readonly string[], signal?: AccessSignal) {
      const scope = presenceScope(viewer, userIds);
      // Transitions published by different instances may cross on the way: keep each user's latest only.
      const latest = new Map<string, number>();
      return subscribe(
        bus,
        scope.userIds.map((userId) => topics.presence(scope.orgId, userId)),
        {
          signal,
          filter: (event) => {
            if (event.flip <= (latest.get(event.userId) ?? 0)) return false;
            latest.set(event.userId, event.flip);
            return true;
          },
        },
      );
    },

    /**
     * Stops the heartbeat and takes this instance's connections out (its
     * sockets are closing with it), then retires its heartbeat. Whatever
     * cannot be written now is left to the survivors' sweep.
     */
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await beating;
      for (const entry of local.values()) entry.count = 0;
      await Promise.all([...local.keys()].map(sync));
      await Promise.all(chains.values());
      if (dirty.size === 0) {
        await orgsCounted.unindex(instanceIndex(instanceId), [...registered]).catch(() => {});
        await storage.unschedule(INSTANCES, instanceId).catch(() => false);
      }
    },
  };
}
