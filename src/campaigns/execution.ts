import { systemViewer } from '../auth/system.js';
import type { RetentionConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { changeEvent } from '../events/change-event.js';
import { topics } from '../events/topics.js';
import type { Receipt, SendResult } from '../gateway/gateway.js';
import { now } from '../lib/ids.js';
import type { SessionService } from '../sessions/service.js';
import type { LedgerClaim, LedgerCounts, LedgerMove, LedgerMoved, Storage } from '../storage/index.js';
import type { CampaignEvent } from './events.js';
import {
  campaignCounts,
  parseCampaignMessageId,
  processedCount,
  RECEIPT_MOVES,
  RecipientState,
  settledCount,
  type CampaignRecord,
} from './model.js';
import { createCampaignStore, RECIPIENT_CHUNK } from './store.js';

/** What recording a send did: stored, or found the recipient taken over by another worker run. */
export type Recorded = 'recorded' | 'lost';

/** Whether a campaign's session lets it send. */
export type SessionCheck = { ok: true } | { ok: false; action: 'fail' | 'pause'; reason: string };

/** States that mean the recipient was dealt with (by this run or a receipt that overtook it). */
const DEALT_WITH: ReadonlySet<string> = new Set([
  RecipientState.Accepted,
  RecipientState.Sent,
  RecipientState.Delivered,
  RecipientState.Read,
  RecipientState.Failed,
  RecipientState.Refused,
]);

/** Campaigns known to receipt handling, so each receipt costs no extra read. */
const RECEIPT_CACHE_SIZE = 1000;

/**
 * The campaign operations a worker performs, without a viewer: claiming
 * recipients, recording what the gateway said, applying receipts,
 * publishing progress, and the system's own status changes (complete,
 * fail, pause when the session drops).
 *
 * Progress: every recorded send and every receipt that pushes the number
 * of processed recipients (accepted or refused) or settled ones
 * (delivered, read, failed, refused) across a multiple of `progressEvery`
 * publishes `CampaignProgress`, from whichever process made the move. As
 * each move changes one recipient and reads the counts in the same atomic
 * step, consecutive crossings are exactly `progressEvery` apart.
 */
export function createCampaignExecution({
  storage,
  bus,
  sessions,
  progressEvery,
  retention,
}: {
  storage: Storage;
  bus: EventBus;
  sessions: SessionService;
  progressEvery: number;
  retention?: Pick<RetentionConfig, 'campaignDataSeconds'>;
}) {
  const store = createCampaignStore(storage, retention);
  const known = new Map<string, CampaignRecord>();

  const publish = (record: CampaignRecord, event: CampaignEvent) =>
    bus.publish(topics.campaign(record.orgId, record.id), event);
  /** A campaign event, to record with the transition that produces it. */
  const recorded = (record: CampaignRecord, event: CampaignEvent) =>
    changeEvent(topics.campaign(record.orgId, record.id), event);

  const publishProgress = (record: CampaignRecord, counts: LedgerCounts) =>
    publish(record, {
      __typename: 'CampaignProgress',
      campaignId: record.id,
      ...campaignCounts(counts),
      total: record.total,
      occurredAt: now(),
    });

  /** Publishes progress when these moves pushed a measure across a multiple of `progressEvery`. */
  const afterMoves = async (record: CampaignRecord, moves: readonly LedgerMove[], moved: LedgerMoved) => {
    const before: LedgerCounts = { ...moved.counts };
    moves.forEach((move, i) => {
      const previous = moved.previous[i]!;
      if (!moved.applied[i] || previous === move.to) return;
      before[move.to] = (before[move.to] ?? 0) - 1;
      if (previous !== RecipientState.Pending) before[previous] = (before[previous] ?? 0) + 1;
    });
    const crossed = (measure: (counts: LedgerCounts) => number) =>
      Math.floor(measure(before) / progressEvery) < Math.floor(measure(moved.counts) / progressEvery);
    if (crossed(processedCount) || crossed(settledCount)) await publishProgress(record, moved.counts);
  };

  const transition = store.transition;

  return {
    /** Campaigns that should be running, oldest request first. */
    runnable: (limit: number) => store.runnable(limit),

    load: (id: string) => store.load(id),

    counts: (record: CampaignRecord) => store.ledger(record).counts(),

    publishProgress,

    /** A reader of a campaign's recipients that fetches each chunk once. */
    recipients(record: CampaignRecord) {
      const chunks = new Map<number, Promise<string[]>>();
      return async (item: number): Promise<string> => {
        const chunk = Math.floor(item / RECIPIENT_CHUNK);
        let loading = chunks.get(chunk);
        if (!loading) chunks.set(chunk, (loading = store.recipientChunk(record, chunk)));
        loading.catch(() => chunks.delete(chunk));
        const recipient = (await loading)[item % RECIPIENT_CHUNK];
        if (recipient === undefined) throw new Error(`Campaign ${record.id} has no recipient ${item}`);
        return recipient;
      };
    },

    /** Claims the next recipients for `owner` (recorded before anything is sent). */
    claim: (record: CampaignRecord, owner: string, limit: number): Promise<LedgerClaim[]> =>
      store.ledger(record).claim(owner, limit, record.total),

    /** Records the gateway's answer for a recipient `owner` claimed. */
    async record(record: CampaignRecord, owner: string, item: number, result: SendResult): Promise<Recorded> {
      const to = result.status === 'accepted' ? RecipientState.Accepted : RecipientState.Refused;
      const moves = [{ item, from: [RecipientState.Claimed], to }];
      const moved = await store.ledger(record).move(moves, owner);
      if (moved.applied[0]) {
        await afterMoves(record, moves, moved);
        return 'recorded';
      }
      // A receipt may have overtaken the answer; otherwise another run took the recipient over.
      return DEALT_WITH.has(moved.previous[0]!) ? 'recorded' : 'lost';
    },

    /** Hands recipients `owner` holds back, unsent (or of unknown outcome: the resend carries the same id). */
    async release(record: CampaignRecord, owner: string, items: readonly number[]): Promise<void> {
      if (items.length === 0) return;
      const moves = items.map((item) => ({ item, from: [RecipientState.Claimed], to: RecipientState.Pending }));
      await store.ledger(record).move(moves, owner);
    },

    /** Whether the campaign's session can send: deleted fails the campaign, not connected pauses it. */
    async checkSession(record: CampaignRecord): Promise<SessionCheck> {
      const session = await sessions.get(systemViewer(record.orgId), record.sessionId).catch((error: unknown) => {
        if ((error as { extensions?: { code?: string } }).extensions?.code === 'NOT_FOUND') return undefined;
        throw error;
      });
      if (!session) return { ok: false, action: 'fail', reason: 'The campaign\u2019s session was deleted' };
      if (session.status !== 'CONNECTED') {
        // Every member of the organisation reads the reason; not all of them may see the session's status.
        return {
          ok: false,
          action: 'pause',
          reason: 'The campaign\u2019s session stopped being connected: reconnect it, then resume the campaign',
        };
      }
      return { ok: true };
    },

    /** RUNNING -> COMPLETED (its event recorded with it); false when it is no longer running (paused or cancelled meanwhile). */
    async complete(record: CampaignRecord): Promise<boolean> {
      const result = await transition(
        record.orgId,
        record.id,
        ['RUNNING'],
        () => ({ status: 'COMPLETED', finishedAt: now() }),
        (next) => [
          recorded(next, { __typename: 'CampaignCompleted', campaignId: next.id, occurredAt: next.updatedAt }),
        ],
      );
      return Boolean(result?.changed);
    },

    /** RUNNING -> FAILED with the reason. */
    async fail(record: CampaignRecord, error: string): Promise<boolean> {
      const result = await transition(
        record.orgId,
        record.id,
        ['RUNNING'],
        () => ({ status: 'FAILED', lastError: error, finishedAt: now() }),
        (next) => [
          recorded(next, { __typename: 'CampaignFailed', campaignId: next.id, error, occurredAt: next.updatedAt }),
        ],
      );
      return Boolean(result?.changed);
    },

    /** RUNNING -> PAUSED by the system, saying why. */
    async pause(record: CampaignRecord, reason: string): Promise<boolean> {
      const result = await transition(
        record.orgId,
        record.id,
        ['RUNNING'],
        () => ({ status: 'PAUSED', lastError: reason }),
        (next) => [
          recorded(next, { __typename: 'CampaignPaused', campaignId: next.id, reason, occurredAt: next.updatedAt }),
        ],
      );
      return Boolean(result?.changed);
    },

    /**
     * Moves a recipient forward on a gateway receipt. Receipts repeat and
     * arrive out of order: a move only ever goes forward, so applying one
     * twice, or a DELIVERED after a READ, changes nothing.
     */
    async applyReceipt(receipt: Receipt): Promise<void> {
      const target = parseCampaignMessageId(receipt.messageId);
      if (!target) return;
      let record = known.get(target.campaignId);
      if (!record) {
        record = await store.load(target.campaignId);
        if (!record) return;
        if (known.size >= RECEIPT_CACHE_SIZE) known.delete(known.keys().next().value!);
        known.set(record.id, record);
      }
      if (target.item >= record.total) return;
      const { from, to } = RECEIPT_MOVES[receipt.status];
      const moves = [{ item: target.item, from, to }];
      const moved = await store.ledger(record).move(moves);
      if (moved.applied[0]) await afterMoves(record, moves, moved);
    },
  };
}

export type CampaignExecution = ReturnType<typeof createCampaignExecution>;
