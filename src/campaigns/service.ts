import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import type { RetentionConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import type { CampaignStatus, CreateCampaignInput } from '../generated/graphql.js';
import { changeEvent } from '../events/change-event.js';
import { createOnce, digest, idempotencyKey, idempotencyScope } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { requireId, requireText } from '../lib/validate.js';
import type { SessionService } from '../sessions/service.js';
import type { ChangeEvent, Storage } from '../storage/index.js';
import { assertCanChangeCampaigns, canSeeCampaign } from './access.js';
import { FINAL_EVENTS, type CampaignEvent } from './events.js';
import { FINAL_STATUSES, type CampaignRecord, type CampaignView } from './model.js';
import { parseRecipients } from './recipients.js';
import { byOrg, createCampaignStore } from './store.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** Campaigns as clients see them: state, authorization and events. Workers run them (see `src/worker/`). */
export type CampaignService = ReturnType<typeof createCampaignService>;

/** Largest page of `campaigns`. */
export const MAX_CAMPAIGN_PAGE = 200;

/** Creates the campaigns domain over storage, the event bus and the sessions it sends through. */
export function createCampaignService({
  storage,
  bus,
  sessions,
  retention,
}: {
  storage: Storage;
  bus: EventBus;
  sessions: SessionService;
  retention?: Pick<RetentionConfig, 'campaignDataSeconds'>;
}) {
  const store = createCampaignStore(storage, retention);

  /** A campaign event, to record with the transition that produces it. */
  const recorded = (record: CampaignRecord, event: CampaignEvent) =>
    changeEvent(topics.campaign(record.orgId, record.id), event);
  /** Wakes idle workers: recorded with the transition that makes the campaign runnable. */
  const wakeWorkers = (record: CampaignRecord) =>
    changeEvent(topics.campaignWork(), { campaignId: record.id, occurredAt: record.updatedAt });

  /** The campaign if the viewer may see it; NOT_FOUND otherwise (missing and foreign read the same). */
  const getRecord = async (viewer: Viewer, id: string): Promise<CampaignRecord> => {
    requireId('id', id);
    const record = await store.campaigns(viewer.orgId).get(id);
    if (!record || !canSeeCampaign(viewer, record)) throw notFound('Campaign', id);
    return record;
  };

  /**
   * A campaign starts or resumes only on a session that the viewer may see
   * and that is connected. One the viewer may not see reads exactly as a
   * missing one (`NOT_FOUND`, from `sessions.get`), so its status is never
   * told to someone who could not read it.
   */
  const assertSessionReady = async (viewer: Viewer, record: CampaignRecord) => {
    const session = await sessions.get(viewer, record.sessionId);
    if (session.status !== 'CONNECTED') {
      throw badInput(`The campaign\u2019s session is ${session.status}: connect it first`, 'id');
    }
  };

  /**
   * Applies a user's status change, recording the events `events` makes of
   * it: only from `from`, else BAD_USER_INPUT saying what the campaign is
   * and what the change needs.
   */
  const change = async (
    viewer: Viewer,
    id: string,
    verb: string,
    from: readonly CampaignStatus[],
    apply: (current: CampaignRecord) => Partial<CampaignRecord>,
    events: (record: CampaignRecord) => ChangeEvent[],
    check?: (viewer: Viewer, record: CampaignRecord) => Promise<void>,
  ): Promise<CampaignRecord> => {
    assertCanChangeCampaigns(viewer);
    const record = await getRecord(viewer, id);
    const refuse = (status: CampaignStatus) =>
      badInput(`The campaign is ${status}: only a ${from.join(' or ')} campaign can be ${verb}`, 'id');
    if (!from.includes(record.status)) throw refuse(record.status);
    await check?.(viewer, record);
    const result = await store.transition(viewer.orgId, id, from, apply, events);
    if (!result) throw notFound('Campaign', id);
    if (!result.changed) throw refuse(result.record.status);
    return result.record;
  };

  return {
    async get(viewer: Viewer, id: string): Promise<CampaignView> {
      return store.view(await getRecord(viewer, id));
    },

    async list(viewer: Viewer, { limit = 50, before }: { limit?: number | null; before?: string | null } = {}) {
      const size = limit ?? 50;
      if (!Number.isInteger(size) || size < 1 || size > MAX_CAMPAIGN_PAGE) {
        throw badInput(`limit must be from 1 to ${MAX_CAMPAIGN_PAGE}`, 'limit');
      }
      const below = before ? (await getRecord(viewer, before)).seq : undefined;
      const records = await store
        .campaigns(viewer.orgId)
        .list(byOrg(viewer.orgId), { order: 'desc', below, limit: size });
      return store.views(records.filter((record) => canSeeCampaign(viewer, record)));
    },

    /** Creates a `DRAFT` campaign; with an idempotency key, a repeat returns the first call's. */
    async create(viewer: Viewer, input: CreateCampaignInput, key?: string | null): Promise<CampaignView> {
      assertCanChangeCampaigns(viewer);
      const name = requireText('name', input.name, { max: 200 });
      const message = requireText('message', input.message, { max: 4096 });
      requireId('sessionId', input.sessionId);
      const recipients = parseRecipients(input.recipients);
      const claim = idempotencyScope(viewer, 'createCampaign', idempotencyKey(key));
      // The session must be one the creator may see: their own, or any for admin.
      await sessions.get(viewer, input.sessionId);
      const record = await createOnce(storage.forOrg(viewer.orgId), {
        claim,
        args: { name, message, sessionId: input.sessionId, recipients: digest(recipients) },
        find: async (id) => {
          const found = await store.campaigns(viewer.orgId).get(id);
          return found && canSeeCampaign(viewer, found) ? found : undefined;
        },
        create: async (id) => {
          const timestamp = now();
          const created: CampaignRecord = {
            id,
            orgId: viewer.orgId,
            name,
            sessionId: input.sessionId,
            message,
            createdBy: viewer.id,
            status: 'DRAFT',
            total: recipients.length,
            seq: await storage.forOrg(viewer.orgId).increment('campaigns'),
            lastError: null,
            createdAt: timestamp,
            updatedAt: timestamp,
            startedAt: null,
            finishedAt: null,
          };
          return (await store.insert(created, recipients)) ? created : undefined;
        },
      });
      return store.view(record);
    },

    /** Records the intent only: a worker picks the campaign up from the runnable index. */
    async start(viewer: Viewer, id: string): Promise<CampaignView> {
      const record = await change(
        viewer,
        id,
        'started',
        ['DRAFT'],
        () => ({ status: 'RUNNING', startedAt: now() }),
        (next) => [
          recorded(next, { __typename: 'CampaignStarted', campaignId: id, occurredAt: next.updatedAt }),
          wakeWorkers(next),
        ],
        assertSessionReady,
      );
      return store.view(record);
    },

    async pause(viewer: Viewer, id: string): Promise<CampaignView> {
      const record = await change(
        viewer,
        id,
        'paused',
        ['RUNNING'],
        () => ({ status: 'PAUSED' }),
        (next) => [
          recorded(next, { __typename: 'CampaignPaused', campaignId: id, reason: null, occurredAt: next.updatedAt }),
        ],
      );
      return store.view(record);
    },

    async resume(viewer: Viewer, id: string): Promise<CampaignView> {
      const record = await change(
        viewer,
        id,
        'resumed',
        ['PAUSED'],
        () => ({ status: 'RUNNING', lastError: null }),
        (next) => [
          recorded(next, { __typename: 'CampaignResumed', campaignId: id, occurredAt: next.updatedAt }),
          wakeWorkers(next),
        ],
        assertSessionReady,
      );
      return store.view(record);
    },

    async cancel(viewer: Viewer, id: string): Promise<CampaignView> {
      const record = await change(
        viewer,
        id,
        'cancelled',
        ['DRAFT', 'RUNNING', 'PAUSED'],
        () => ({ status: 'CANCELLED', finishedAt: now() }),
        (next) => [recorded(next, { __typename: 'CampaignCancelled', campaignId: id, occurredAt: next.updatedAt })],
      );
      return store.view(record);
    },

    /**
     * Live events of a campaign of the viewer's organisation; ends after the
     * campaign's final event, at once if it has already ended, or when
     * `signal` aborts.
     */
    async subscribe(viewer: Viewer, campaignId: string, signal?: AccessSignal) {
      const record = await getRecord(viewer, campaignId);
      const events = await subscribe(bus, topics.campaign(record.orgId, record.id), {
        signal,
        isLast: (event) => FINAL_EVENTS.has(event.__typename),
      });
      // Read after the subscription is live, so an end in between is not missed.
      const current = await store.campaigns(record.orgId).get(record.id);
      if (!current || FINAL_STATUSES.includes(current.status)) await events.return();
      return events;
    },
  };
}
