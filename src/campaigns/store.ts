import type { CampaignStatus } from '../generated/graphql.js';
import { now } from '../lib/ids.js';
import { keyPart } from '../lib/keys.js';
import type { ChangeEvent, Doc, IndexEntry, Storage } from '../storage/index.js';
import { DEFAULT_RETENTION, type RetentionConfig } from '../config.js';
import { campaignCounts, FINAL_STATUSES, type CampaignRecord, type CampaignView } from './model.js';

/** Recipients are stored in chunks of this many, so a worker reads only what it sends. */
export const RECIPIENT_CHUNK = 1000;

/** The index of campaigns a worker should be running (status `RUNNING`), oldest first. */
export const RUNNABLE = 'runnable';

/** The index of an organisation's campaigns, by creation order. */
export const byOrg = (orgId: string) => `org:${keyPart(orgId)}`;

/** The indexes a campaign belongs in: its organisation's, and the runnable one while `RUNNING`. */
const indexesOf = (record: CampaignRecord): IndexEntry[] => [
  { index: byOrg(record.orgId), score: record.seq },
  ...(record.status === 'RUNNING' ? [{ index: RUNNABLE, score: record.seq }] : []),
];

interface RecipientChunk extends Doc {
  recipients: string[];
}

/** What a status transition did: the record as stored, and whether this call changed it. */
export interface Transition {
  record: CampaignRecord;
  changed: boolean;
}

/**
 * Where campaigns live: records (with an org index and the runnable index),
 * recipients in chunks, and one ledger per campaign holding each
 * recipient's send state (item `i` is recipient `i`). Once a campaign has
 * ended, its recipients and the ledger's states expire after
 * `campaignDataSeconds` (0: kept); the record and its counts stay.
 */
export function createCampaignStore(
  storage: Storage,
  {
    campaignDataSeconds = DEFAULT_RETENTION.campaignDataSeconds,
  }: Partial<Pick<RetentionConfig, 'campaignDataSeconds'>> = {},
) {
  const campaigns = storage.collection<CampaignRecord>('campaigns');
  const chunks = storage.collection<RecipientChunk>('campaign-recipients');
  const chunkId = (campaignId: string, chunk: number) => `${campaignId}:${chunk}`;
  const ledger = (campaignId: string) => storage.ledger(`campaign:${campaignId}`);

  /** Sets an ended campaign's recipients and send states to expire (see above). */
  const retire = async (record: CampaignRecord) => {
    if (campaignDataSeconds <= 0) return;
    const ttlMs = campaignDataSeconds * 1000;
    const chunkCount = Math.ceil(record.total / RECIPIENT_CHUNK);
    await Promise.all([
      ledger(record.id).retire(ttlMs),
      ...Array.from({ length: chunkCount }, (_, chunk) => chunks.expire(chunkId(record.id, chunk), ttlMs)),
    ]);
  };

  const view = async (record: CampaignRecord): Promise<CampaignView> => ({
    ...record,
    ...campaignCounts(record.status === 'DRAFT' ? {} : await ledger(record.id).counts()),
  });

  return {
    campaigns,
    ledger,
    view,
    views: (records: CampaignRecord[]) => Promise.all(records.map(view)),

    /**
     * Stores the recipients, then the record: a campaign is never visible
     * without them. False when the record's id was taken (its recipients,
     * stored under the same ids, are then the first call's).
     */
    async insert(record: CampaignRecord, recipients: readonly string[]): Promise<boolean> {
      const writes: Promise<boolean>[] = [];
      for (let start = 0, chunk = 0; start < recipients.length; start += RECIPIENT_CHUNK, chunk++) {
        const slice = recipients.slice(start, start + RECIPIENT_CHUNK);
        writes.push(chunks.insert({ id: chunkId(record.id, chunk), recipients: slice }));
      }
      await Promise.all(writes);
      return campaigns.insert(record, indexesOf(record));
    },

    /** Chunk `chunk` of a campaign's recipients (recipient `i` is in chunk `floor(i / RECIPIENT_CHUNK)`). */
    async recipientChunk(campaignId: string, chunk: number): Promise<string[]> {
      const found = await chunks.get(chunkId(campaignId, chunk));
      if (!found) throw new Error(`Recipients ${chunkId(campaignId, chunk)} are missing`);
      return found.recipients;
    },

    /**
     * Moves a campaign from one of `from` to what `apply` makes of it, as one
     * compare-and-set together with its indexes: entering `RUNNING` adds it
     * to the runnable index, leaving removes it; `events` made of the new
     * record are recorded with it. Undefined when it does not exist.
     */
    async transition(
      id: string,
      from: readonly CampaignStatus[],
      apply: (current: CampaignRecord) => Partial<CampaignRecord>,
      events?: (record: CampaignRecord) => ChangeEvent[],
    ): Promise<Transition | undefined> {
      const result = await campaigns.update(
        id,
        (current) => (from.includes(current.status) ? { ...current, ...apply(current), updatedAt: now() } : undefined),
        indexesOf,
        events,
      );
      if (result?.changed && FINAL_STATUSES.includes(result.after.status)) await retire(result.after);
      return result && { record: result.after, changed: result.changed };
    },
  };
}

export type CampaignStore = ReturnType<typeof createCampaignStore>;
