import type { Viewer } from '../auth/viewer.js';
import { flatString } from '../lib/flat-string.js';
import { newId } from '../lib/ids.js';
import { keyPart } from '../lib/keys.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';

/** Gives a connection's slot back; safe to call more than once. */
export type ReleaseSlot = () => void;

/**
 * MAX_CONNECTIONS_PER_USER: how many WebSockets and SSE streams one user
 * holds at once. With Redis the count is shared by every instance (a slot
 * is a lease that this instance renews every `ttlMs / 3`, all of them in a
 * few batched calls, so the slots of a crashed instance lapse after `ttlMs`); each instance also keeps its own
 * count, which alone applies while Redis is unreachable. A user's slots are
 * in their organisation's scope (`storage.forOrg`), so on a Redis Cluster
 * the connections of a deployment spread over the shards with their
 * organisations; a renewal round makes one batched call per organisation
 * with connections here (one per 1,000 of its slots).
 */
export function createConnectionSlots(options: { storage: Storage; limit: number; logger: Logger; ttlMs?: number }) {
  const { storage, limit, logger, ttlMs = 60_000 } = options;
  /** Slots this instance holds: member id -> the user's organisation and key. */
  const held = new Map<string, { orgId: string; key: string }>();
  /** Releases sent to the storage and not yet answered: shutdown waits for them. */
  const releasing = new Set<Promise<void>>();
  const local = new Map<string, number>();

  // Every slot of this instance in a few batched calls per round (per organisation, its slot), however many connections it holds.
  const renew = setInterval(() => {
    if (held.size === 0) return;
    const byOrg = new Map<string, (readonly [key: string, member: string])[]>();
    for (const [member, { orgId, key }] of held) {
      const slots = byOrg.get(orgId);
      if (slots) slots.push([key, member]);
      else byOrg.set(orgId, [[key, member]]);
    }
    for (const [orgId, slots] of byOrg) {
      storage
        .forOrg(orgId)
        .renewSlots(slots, ttlMs)
        .catch((error: unknown) => {
          logger.warn({ err: (error as Error).message }, 'connection slots not renewed; retrying next round');
        });
    }
  }, ttlMs / 3);
  renew.unref();

  return {
    /** Takes a slot for the viewer, or resolves undefined when they hold `limit` already. */
    async acquire(viewer: Viewer): Promise<ReleaseSlot | undefined> {
      const { orgId } = viewer;
      const scope = storage.forOrg(orgId);
      // Both kept for the connection's life: flat strings, not ropes.
      const key = flatString(`conn:${keyPart(orgId)}:${keyPart(viewer.id)}`);
      if ((local.get(key) ?? 0) >= limit) return undefined;
      const member = newId();
      // Counted locally before the await, so concurrent connects cannot overshoot here.
      local.set(key, (local.get(key) ?? 0) + 1);
      let shared: boolean;
      try {
        shared = await scope.holdSlot(key, member, limit, ttlMs);
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'connection count unavailable; counting this instance only');
        shared = true;
      }
      const release = () => {
        const count = (local.get(key) ?? 1) - 1;
        if (count <= 0) local.delete(key);
        else local.set(key, count);
      };
      if (!shared) {
        release();
        return undefined;
      }
      held.set(member, { orgId, key });
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
        held.delete(member);
        const done = scope.releaseSlot(key, member).catch(() => {});
        releasing.add(done);
        void done.finally(() => releasing.delete(done));
      };
    },
    /**
     * Shutdown: stops renewing and waits for the releases already sent; a
     * slot still held (its connection outlived the shutdown) is released
     * too, so no user waits for a lease to lapse.
     */
    async close() {
      clearInterval(renew);
      await Promise.all(
        [...held].map(([member, { orgId, key }]) => {
          held.delete(member);
          return storage
            .forOrg(orgId)
            .releaseSlot(key, member)
            .catch(() => {});
        }),
      );
      await Promise.all(releasing);
    },
  };
}
export type ConnectionSlots = ReturnType<typeof createConnectionSlots>;
