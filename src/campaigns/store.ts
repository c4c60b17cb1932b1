import type { CampaignStatus } from '../generated/graphql.js';
import { now } from '../lib/ids.js';
import { keyPart } from '../lib/keys.js';
import type { ChangeEvent, Doc, IndexEntry, Storage } from '../storage/index.js';
import { DEFAULT_RETENTION, type RetentionConfig } from '../config.js';
import { campaignCounts, FINAL_STATUSES, type CampaignRecord, type CampaignView } from './model.js';

/** Recipients are stored in chunks of this many, so a worker reads only what it sends. */
export const RECIPIENT_CHUNK = 1000;

/** The directory's index of campaigns a worker should be running (marked `RUNNING`, or about to be), oldest mark first. */
export const RUNNABLE = 'runnable';

/**
 * How long a runnable mark whose campaign is not `RUNNING` is kept: a
 * start or resume marks the campaign just before its transition commits,
 * so a mark younger than this may be one whose transition is in flight.
 */
export const RUNNABLE_MARK_GRACE_MS = 60_000;

/** The index of an organisation's campaigns, by creation order. */
export const byOrg = (orgId: string) => `org:${keyPart(orgId)}`;

/** The indexes a campaign belongs in (in its organisation's storage): its organisation's. */
const indexesOf = (record: CampaignRecord): IndexEntry[] => [{ index: byOrg(record.orgId), score: record.seq }];

interface RecipientChunk extends Doc {
  recipients: string[];
}

/**
 * A campaign's entry in the deployment-level directory: its organisation
 * (workers and receipts know a campaign by id alone), and since when it is
 * marked runnable (null: not marked), which places it in {@link RUNNABLE}.
 */
interface DirectoryEntry extends Doc {
  orgId: string;
  runnableSince: number | null;
}

const directoryIndexes = (entry: DirectoryEntry): IndexEntry[] =>
  entry.runnableSince === null ? [] : [{ index: RUNNABLE, score: entry.runnableSince }];

/** What a status transition did: the record as stored, and whether this call changed it. */
export interface Transition {
  record: CampaignRecord;
  changed: boolean;
}

/**
 * Where campaigns live: records (with an org index), recipients in chunks,
 * and one ledger per campaign holding each recipient's send state (item
 * `i` is recipient `i`), all in the campaign's organisation's storage
 * (`Storage.forOrg`: its slot on a Redis Cluster). Once a campaign has
 * ended, its recipients and the ledger's states expire after
 * `campaignDataSeconds` (0: kept); the record and its counts stay.
 *
 * What spans organisations is in a directory on the deployment's storage:
 * each campaign's organisation, and the runnable index workers scan. A
 * campaign is marked runnable before a transition makes it `RUNNING`
 * (written apart from that transition, which is in the organisation's
 * slot), so a running campaign is always marked; a mark whose campaign is
 * not running is dropped by the workers' scan once older than
 * {@link RUNNABLE_MARK_GRACE_MS} and unchanged (see `runnable`).
 */
export function createCampaignStore(
  storage: Storage,
  {
    campaignDataSeconds = DEFAULT_RETENTION.campaignDataSeconds,
  }: Partial<Pick<RetentionConfig, 'campaignDataSeconds'>> = {},
) {
  const campaigns = (orgId: string) => storage.forOrg(orgId).collection<CampaignRecord>('campaigns');
  const chunks = (orgId: string) => storage.forOrg(orgId).collection<RecipientChunk>('campaign-recipients');
  const directory = storage.collection<DirectoryEntry>('campaign-directory');
  const chunkId = (campaignId: string, chunk: number) => `${campaignId}:${chunk}`;
  const ledger = (record: Pick<CampaignRecord, 'id' | 'orgId'>) =>
    storage.forOrg(record.orgId).ledger(`campaign:${record.id}`);

  /** Sets an ended campaign's recipients and send states to expire (see above). */
  const retire = async (record: CampaignRecord) => {
    if (campaignDataSeconds <= 0) return;
    const ttlMs = campaignDataSeconds * 1000;
    const chunkCount = Math.ceil(record.total / RECIPIENT_CHUNK);
    await Promise.all([
      ledger(record).retire(ttlMs),
      ...Array.from({ length: chunkCount }, (_, chunk) =>
        chunks(record.orgId).expire(chunkId(record.id, chunk), ttlMs),
      ),
    ]);
  };

  const view = async (record: CampaignRecord): Promise<CampaignView> => ({
    ...record,
    ...campaignCounts(record.status === 'DRAFT' ? {} : await ledger(record).counts()),
  });

  /** Marks a campaign runnable (before it becomes `RUNNING`). */
  const markRunnable = (id: string) =>
    directory.update(id, (entry) => ({ ...entry, runnableSince: Date.now() }), directoryIndexes);

  return {
    campaigns,
    ledger,
    view,
    views: (records: CampaignRecord[]) => Promise.all(records.map(view)),

    /** A campaign found by id alone (a worker's, a receipt's), in its organisation's storage. */
    async load(id: string): Promise<CampaignRecord | undefined> {
      const entry = await directory.get(id);
      return entry && campaigns(entry.orgId).get(id);
    },

    /**
     * Up to `limit` campaigns to run, oldest mark first: those marked
     * runnable and `RUNNING`. A mark whose campaign is not running, older
     * than the grace and still the same, is dropped (a compare-and-set on
     * the directory entry: a new mark meanwhile keeps it).
     */
    async runnable(limit: number): Promise<string[]> {
      const entries = await directory.list(RUNNABLE, { limit });
      const found = await Promise.all(
        entries.map(async (entry) => ({ entry, record: await campaigns(entry.orgId).get(entry.id) })),
      );
      const running: string[] = [];
      for (const { entry, record } of found) {
        if (record?.status === 'RUNNING') running.push(entry.id);
        else if (entry.runnableSince !== null && Date.now() - entry.runnableSince > RUNNABLE_MARK_GRACE_MS) {
          const since = entry.runnableSince;
          await directory.update(
            entry.id,
            (current) => (current.runnableSince === since ? { ...current, runnableSince: null } : undefined),
            directoryIndexes,
          );
        }
      }
      return running;
    },

    /**
     * Stores the directory entry and the recipients, then the record: a
     * campaign is never visible without them. False when the record's id
     * was taken (its recipients, stored under the same ids, are then the
     * first call's).
     */
    async insert(record: CampaignRecord, recipients: readonly string[]): Promise<boolean> {
      const writes: Promise<boolean>[] = [
        directory.insert({ id: record.id, orgId: record.orgId, runnableSince: null }),
      ];
      for (let start = 0, chunk = 0; start < recipients.length; start += RECIPIENT_CHUNK, chunk++) {
        const slice = recipients.slice(start, start + RECIPIENT_CHUNK);
        writes.push(chunks(record.orgId).insert({ id: chunkId(record.id, chunk), recipients: slice }));
      }
      await Promise.all(writes);
      return campaigns(record.orgId).insert(record, indexesOf(record));
    },

    /** Chunk `chunk` of a campaign's recipients (recipient `i` is in chunk `floor(i / RECIPIENT_CHUNK)`). */
    async recipientChunk(record: Pick<CampaignRecord, 'id' | 'orgId'>, chunk: number): Promise<string[]> {
      const found = await chunks(record.orgId).get(chunkId(record.id, chunk));
      if (!found) throw new Error(`Recipients ${chunkId(record.id, chunk)} are missing`);
      return found.recipients;
    },

    /**
     * Moves a campaign of `orgId` from one of `from` to what `apply` makes
     * of it, as one compare-and-set together with its index; `events` made
     * of the new record are recorded with it. A move into `RUNNING` marks
     * the campaign runnable first. Undefined when it does not exist.
     */
    async transition(
      orgId: string,
      id: string,
      from: readonly CampaignStatus[],
      apply: (current: CampaignRecord) => Partial<CampaignRecord>,
      events?: (record: CampaignRecord) => ChangeEvent[],
    ): Promise<Transition | undefined> {
      const current = await campaigns(orgId).get(id);
      if (current && from.includes(current.status) && apply(current).status === 'RUNNING') await markRunnable(id);
      const result = await campaigns(orgId).update(
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
