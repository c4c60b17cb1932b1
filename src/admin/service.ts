import type { Viewer } from '../auth/viewer.js';
import type { PresenceConfig } from '../config.js';
import type { EventBus, Unlisten } from '../events/bus.js';
import { topics } from '../events/topics.js';
import type { Connection } from '../generated/graphql.js';
import { settlesWithin } from '../lib/deadline.js';
import { newId } from '../lib/ids.js';
import { optionalText, requireIntInRange, requireUserId } from '../lib/validate.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';
import { adminOrganisation } from './access.js';
import type { AdminCommand, AdminQuestion, AdminReply } from './events.js';
import { REVOKED, type ConnectionRegistry } from './registry.js';
import type { Revocations } from './revocations.js';

/** The admin API of one server instance (see {@link createAdminService}). */
export type AdminService = ReturnType<typeof createAdminService>;

/** Index of live server instances, scored by the deadline of their last heartbeat. */
const LIVE = 'live';

/** The close reason a disconnected user sees (WebSocket close `4403`). */
const DISCONNECTED = 'Forbidden: disconnected by an administrator';

/** `connections(limit:)`: the default and largest answer. */
const CONNECTIONS_PAGE = { default: 1000, max: 10_000 } as const;

/**
 * The admin API across instances: `connections`, `disconnectUser` and
 * `revokeTokens`, each confined to the admin's organisation.
 *
 * Every instance keeps its own connections in memory (./registry.ts) and
 * listens on one admin channel (pub/sub: every instance hears every
 * command). A question (`connections`, and the count of `disconnectUser`)
 * is a scatter-gather: the command goes out with a request id, each
 * instance acts on its own connections and answers on the asker's reply
 * channel, and the asker waits until every live instance has answered or
 * `gatherMs` has passed (an instance that does not answer by then is left
 * out of the answer; its connections are still closed when the command
 * reaches it). Live instances are those whose heartbeat (every
 * PRESENCE_HEARTBEAT_MS, lapsing after PRESENCE_LAPSE_MS) is current, so
 * the usual answer comes as soon as the last instance replies, with nothing
 * written per connection; an instance that died without closing keeps its
 * place until it lapses, and answers meanwhile take `gatherMs`.
 *
 * Revocations are stored first (./revocations.ts), then announced on the
 * same channel; each instance closes the connections holding a revoked token.
 */
export function createAdminService(options: {
  storage: Storage;
  bus: EventBus;
  logger: Logger;
  registry: ConnectionRegistry;
  revocations: Revocations;
  presence: PresenceConfig;
  /** How long a question waits for the instances' answers. */
  gatherMs?: number;
}) {
  const { storage, bus, logger, registry, revocations, presence, gatherMs = 800 } = options;
  const instance = registry.instance;
  const instances = storage.collection<{ id: string }>('admin-instances');
  /** Answers awaited by this instance, by request id. */
  const waiting = new Map<string, (reply: AdminReply) => void>();
  const unlistens: Unlisten[] = [];
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;

  const reply = (to: string, answer: AdminReply) =>
    bus
      .publish(topics.adminReplies(to), answer)
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'admin: answer not sent'));

  const closeRevoked = (orgId: string, userId: string) => {
    const closed = registry.close(orgId, userId, REVOKED, (viewer) => revocations.refuses(viewer));
    if (closed > 0) logger.info({ org: orgId, user: userId, closed }, 'admin: closed connections of revoked tokens');
  };

  const handle = (command: AdminCommand) => {
    switch (command.kind) {
      case 'list':
        return void reply(command.replyTo, {
          kind: 'list',
          requestId: command.requestId,
          instance,
          connections: registry.list(command.orgId, command.userId ?? undefined).slice(0, command.limit),
        });
      case 'disconnect': {
        const closed = registry.close(command.orgId, command.userId, DISCONNECTED);
        if (closed > 0) {
          logger.info(
            { org: command.orgId, user: command.userId, closed, reason: command.reason },
            'admin: disconnected',
          );
        }
        return void reply(command.replyTo, { kind: 'disconnect', requestId: command.requestId, instance, closed });
      }
      case 'revoked':
        revocations.learn(command.orgId, command.userId, command.revokedAt);
        return closeRevoked(command.orgId, command.userId);
    }
  };

  /** Sends a question to every instance (this one too) and gathers the answers (see above). */
  const gather = async (question: AdminQuestion): Promise<AdminReply[]> => {
    const requestId = newId();
    const expected = Math.max(1, await instances.count(LIVE, { above: Date.now() }));
    const answered = new Map<string, AdminReply>();
    const all = new Promise<void>((resolve) =>
      waiting.set(requestId, (answer) => {
        answered.set(answer.instance, answer);
        if (answered.size >= expected) resolve();
      }),
    );
    try {
      await bus.publish(topics.adminCommands(), { ...question, requestId, replyTo: instance });
      await settlesWithin(all, gatherMs);
    } finally {
      waiting.delete(requestId);
    }
    return [...answered.values()];
  };

  /** Renews this instance's place among the live ones; catches up on revocations a lost message missed. */
  const heartbeat = async () => {
    await instances.index(LIVE, [{ id: instance, score: Date.now() + presence.lapseMs }]);
    const lapsed = await instances.ids(LIVE, { below: Date.now() });
    if (lapsed.length > 0) await instances.unindex(LIVE, lapsed);
    for (const missed of await revocations.reload()) closeRevoked(missed.orgId, missed.userId);
  };

  return {
    /**
     * Loads the stored revocations, listens for commands and joins the live
     * instances. Rejects when that cannot be done (Redis unreachable): a
     * server must not accept tokens without knowing which are revoked.
     */
    async start(): Promise<void> {
      unlistens.push(
        await bus.listen(topics.adminReplies(instance), (answer) => waiting.get(answer.requestId)?.(answer)),
        await bus.listen(topics.adminCommands(), handle),
      );
      await heartbeat();
      // One beat at a time; a failed one is retried on the next.
      timer = setInterval(
        () =>
          void (beating ??= heartbeat()
            .catch((error: unknown) =>
              logger.warn({ err: (error as Error).message }, 'admin heartbeat failed; retrying'),
            )
            .finally(() => (beating = undefined))),
        presence.heartbeatMs,
      );
      timer.unref();
    },

    /**
     * The `limit` oldest open connections of the admin's organisation (of
     * one user), on every instance, oldest first: each instance sends only
     * its `limit` oldest, so an answer stays bounded however many are open.
     */
    async connections(viewer: Viewer, userId?: string | null, limit?: number | null): Promise<Connection[]> {
      const orgId = adminOrganisation(viewer);
      const user = userId === null || userId === undefined ? null : requireUserId('userId', userId);
      const most = requireIntInRange('limit', limit ?? CONNECTIONS_PAGE.default, { min: 1, max: CONNECTIONS_PAGE.max });
      const replies = await gather({ kind: 'list', orgId, userId: user, limit: most });
      return replies
        .flatMap((answer) => (answer.kind === 'list' ? answer.connections : []))
        .sort((a, b) => a.openedAt.localeCompare(b.openedAt))
        .slice(0, most)
        .map((found) => ({ ...found, transport: found.transport === 'sse' ? 'SSE' : 'WEBSOCKET' }));
    },

    /** Closes a user's connections on every instance; resolves how many were open. */
    async disconnectUser(viewer: Viewer, userId: string, reason?: string | null): Promise<number> {
      const orgId = adminOrganisation(viewer);
      const user = requireUserId('userId', userId);
      const why = optionalText('reason', reason, { max: 200 }) ?? '';
      logger.info({ org: orgId, user, admin: viewer.id, reason: why }, 'admin: disconnecting a user');
      const replies = await gather({ kind: 'disconnect', orgId, userId: user, reason: why });
      return replies.reduce((total, answer) => total + (answer.kind === 'disconnect' ? answer.closed : 0), 0);
    },

    /** Revokes every token of a user issued until now, on every instance; resolves the moment (ISO 8601). */
    async revokeTokens(viewer: Viewer, userId: string): Promise<string> {
      const orgId = adminOrganisation(viewer);
      const user = requireUserId('userId', userId);
      const revokedAt = await revocations.revoke(orgId, user);
      logger.info({ org: orgId, user, admin: viewer.id }, 'admin: revoked tokens');
      closeRevoked(orgId, user);
      await bus.publish(topics.adminCommands(), { kind: 'revoked', orgId, userId: user, revokedAt });
      return new Date(revokedAt).toISOString();
    },

    /** Leaves the live instances and stops listening. */
    async close(): Promise<void> {
      clearInterval(timer);
      for (const unlisten of unlistens.splice(0)) unlisten();
      // A beat under way would put this instance back.
      await beating;
      await instances.unindex(LIVE, [instance]);
    },
  };
}
