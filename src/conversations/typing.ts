import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';
import type { ConversationRecord } from './model.js';

/** Without a renewal, typing lapses after this long (client contract). */
export const TYPING_LAPSE_MS = 5_000;

/** The deadline set of everyone typing in an organisation (in its scope, `storage.forOrg`). */
const TYPING_SET = 'typing';

/** Deployment-level index of the organisations that may have typists: what sweepers walk. */
const TYPING_ORGS = 'typing-orgs';
const ACTIVE = 'active';

/** Who is typing where, as a deadline member: JSON, so no id can be confused with another. */
type TypingKey = [orgId: string, conversationId: string, userId: string];

/** Publishes `TypingChanged` for a member of a conversation (looked up again when only ids are known). */
export type PublishTyping = (
  key: { orgId: string; conversationId: string; userId: string },
  isTyping: boolean,
) => Promise<void>;

/**
 * Typing indicators with a shared expiry. Each typist has a deadline in the
 * storage backend (a Redis sorted set shared by every instance, one per
 * organisation in its scope, so on a Redis Cluster starts and renewals go
 * to the organisations' slots). A deployment-level index lists the
 * organisations with typists (written when one starts, not on renewals);
 * every instance walks it and sweeps each organisation's due typists,
 * dropping an organisation that has none left, and each lapse is taken by one sweeper and
 * settled by an atomic unschedule, so `TypingChanged` false is published
 * exactly once, by whichever instance is alive, racing an explicit
 * `setTyping(false)` or not. If the sweeper dies between taking and
 * settling, the deadline falls due again for another instance.
 */
export function createTyping(options: {
  storage: Storage;
  logger: Logger;
  publish: PublishTyping;
  /** How often this instance looks for lapsed typists. */
  sweepEveryMs?: number;
  lapseMs?: number;
  /** False in a process that should not sweep (a publisher): lapses are left to the servers. */
  background?: boolean;
}) {
  const { storage, logger, publish, sweepEveryMs = 250, lapseMs = TYPING_LAPSE_MS, background = true } = options;
  const member = (conversation: ConversationRecord, userId: string) =>
    JSON.stringify([conversation.orgId, conversation.id, userId] satisfies TypingKey);

  const orgs = storage.collection<{ id: string }>(TYPING_ORGS);

  /** Lapses an organisation's due typists; drops it from the index once it has none. */
  const sweepOrg = async (orgId: string) => {
    const scope = storage.forOrg(orgId);
    const due = await scope.takeDue(TYPING_SET, { limit: 100, retryMs: lapseMs });
    for (const entry of due) {
      if (!(await scope.unschedule(TYPING_SET, entry))) continue;
      const [, conversationId, userId] = JSON.parse(entry) as TypingKey;
      await publish({ orgId, conversationId, userId }, false);
    }
    if (due.length === 100 || (await scope.scheduled(TYPING_SET)) > 0) return;
    // Dropped, then looked at again: a typist who started meanwhile (scheduled, then indexed) is never left out.
    await orgs.unindex(ACTIVE, [orgId]);
    if ((await scope.scheduled(TYPING_SET)) > 0) await orgs.index(ACTIVE, [{ id: orgId, score: Date.now() }]);
  };

  let sweeping: Promise<void> | undefined;
  let lastError = '';
  const sweep = async () => {
    for (const orgId of await orgs.ids(ACTIVE)) await sweepOrg(orgId);
  };
  const timer = background
    ? setInterval(() => {
        sweeping ??= sweep()
          .then(() => void (lastError = ''))
          .catch((error: unknown) => {
            const message = error instanceof Error ? error.message : String(error);
            if (message !== lastError) logger.warn({ err: message }, 'typing sweep failed; retrying');
            lastError = message;
          })
          .finally(() => (sweeping = undefined));
      }, sweepEveryMs)
    : undefined;
  timer?.unref();

  return {
    /**
     * Starts, renews or stops a member's typing. Resolves true when the
     * state changed (and `TypingChanged` was published).
     */
    async set(conversation: ConversationRecord, userId: string, isTyping: boolean): Promise<boolean> {
      const scope = storage.forOrg(conversation.orgId);
      const changed = isTyping
        ? await scope.schedule(TYPING_SET, member(conversation, userId), lapseMs)
        : await scope.unschedule(TYPING_SET, member(conversation, userId));
      // A start makes the organisation one the sweepers walk (after its deadline is there: see sweepOrg).
      if (changed && isTyping) {
        await orgs.index(ACTIVE, [{ id: conversation.orgId, score: Date.now() }]).catch(async (error: unknown) => {
          // Not findable by a sweeper, so not started: the caller's retry starts it again.
          await scope.unschedule(TYPING_SET, member(conversation, userId)).catch(() => false);
          throw error;
        });
      }
      if (changed) await publish({ orgId: conversation.orgId, conversationId: conversation.id, userId }, isTyping);
      return changed;
    },

    /** Stops the sweeper; waits for a sweep under way. */
    async close() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

/** Typing indicators of the conversations domain. */
export type Typing = ReturnType<typeof createTyping>;
