import type { CampaignStatus } from '../generated/graphql.js';
import { CLAIMED, PENDING, type LedgerCounts } from '../storage/index.js';

/** A campaign as stored. Its recipients and their send states live beside it (see `store.ts`). */
export interface CampaignRecord {
  id: string;
  orgId: string;
  name: string;
  sessionId: string;
  message: string;
  createdBy: string;
  status: CampaignStatus;
  /** Distinct recipients. */
  total: number;
  /** Creation order within the storage, for paging (`campaigns(before:)`). */
  seq: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** The counts a client sees, derived from the recipients' send states. */
export interface CampaignCounts {
  sent: number;
  delivered: number;
  failed: number;
}

/** A campaign with its counts: what the API returns. */
export type CampaignView = CampaignRecord & CampaignCounts;

/** Statuses after which nothing happens to a campaign any more. */
export const FINAL_STATUSES: readonly CampaignStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * Each recipient's send state, one ledger character. A recipient is claimed
 * by a worker BEFORE the gateway is called, and each later state only
 * moves forward, so the counts derived from them are exact and never shrink.
 */
export const RecipientState = {
  /** Not sent: never claimed, or handed back unsent (pause, shutdown, a send that timed out). */
  Pending: PENDING,
  /** Held by one worker run that is sending it, or was when it died. */
  Claimed: CLAIMED,
  /** The gateway accepted it. */
  Accepted: 'a',
  /** Receipt: it left the gateway. */
  Sent: 's',
  /** Receipt: the phone received it. */
  Delivered: 'd',
  /** Receipt: the recipient read it. */
  Read: 'r',
  /** Receipt: it could not be delivered after it was accepted. */
  Failed: 'f',
  /** The gateway refused it outright. */
  Refused: 'x',
} as const;

const S = RecipientState;

/** States a recipient is in once the gateway has taken it. */
const ACCEPTED_STATES = [S.Accepted, S.Sent, S.Delivered, S.Read, S.Failed];
/** States in which a recipient's fate is known for good (a read receipt may still follow a delivery). */
const SETTLED_STATES = [S.Delivered, S.Read, S.Failed, S.Refused];

/** Client counts from ledger counts. */
export function campaignCounts(counts: LedgerCounts): CampaignCounts {
  const sum = (states: readonly string[]) => states.reduce((total, state) => total + (counts[state] ?? 0), 0);
  return {
    sent: sum(ACCEPTED_STATES),
    delivered: sum([S.Delivered, S.Read]),
    failed: sum([S.Failed, S.Refused]),
  };
}

/** Recipients the workers are done with: accepted or refused by the gateway. */
export function processedCount(counts: LedgerCounts): number {
  return campaignCounts(counts).sent + (counts[S.Refused] ?? 0);
}

/** Recipients whose fate is known: delivered, read, failed or refused. */
export function settledCount(counts: LedgerCounts): number {
  return SETTLED_STATES.reduce((total, state) => total + (counts[state] ?? 0), 0);
}

/** Recipients accepted but still waiting for a delivery or failure receipt. */
export function awaitingReceipts(counts: LedgerCounts): number {
  return (counts[S.Accepted] ?? 0) + (counts[S.Sent] ?? 0);
}

/** A receipt moves a recipient forward only: each status lists the states it may follow. */
export const RECEIPT_MOVES = {
  SENT: { from: [S.Pending, S.Claimed, S.Accepted], to: S.Sent },
  DELIVERED: { from: [S.Pending, S.Claimed, S.Accepted, S.Sent], to: S.Delivered },
  READ: { from: [S.Pending, S.Claimed, S.Accepted, S.Sent, S.Delivered], to: S.Read },
  FAILED: { from: [S.Pending, S.Claimed, S.Accepted, S.Sent], to: S.Failed },
} as const;

/**
 * The gateway message id of a campaign's recipient: deterministic, so a
 * send retried after a crash or a timeout carries the same id and the
 * gateway (idempotent by id) does not transmit it twice.
 */
export function campaignMessageId(campaignId: string, item: number): string {
  return `campaign:${campaignId}:${item}`;
}

/** The campaign and recipient a message id names, if it is a campaign message. */
export function parseCampaignMessageId(messageId: string): { campaignId: string; item: number } | undefined {
  const match = /^campaign:([^:]+):(\d{1,6})$/.exec(messageId);
  return match ? { campaignId: match[1]!, item: Number(match[2]) } : undefined;
}
