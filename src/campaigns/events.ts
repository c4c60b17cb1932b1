import { z } from 'zod';
import { dateTime, eventOf, id } from '../events/payload.js';
import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `campaignEvents` streams, exactly as published on the campaign's channel. */
export type CampaignEvent = ResolversUnionTypes<ResolversParentTypes>['CampaignEvent'];

/** `CampaignProgress` as published. */
export type CampaignProgressEvent = Extract<CampaignEvent, { __typename: 'CampaignProgress' }>;

/** Events after which nothing more happens to a campaign: its subscriptions complete. */
export const FINAL_EVENTS: ReadonlySet<CampaignEvent['__typename']> = new Set([
  'CampaignCompleted',
  'CampaignFailed',
  'CampaignCancelled',
]);

/**
 * Wakes idle campaign workers when a campaign becomes runnable (started or
 * resumed), so they need not wait for their next poll. Internal: workers
 * only, never a client.
 */
export interface CampaignWork {
  campaignId: string;
  occurredAt: string;
}

const count = z.int().nonnegative();

/** What a campaign's channel may carry: checked by the bus before any subscriber (or worker) sees it. */
export const campaignEventSchema = z.discriminatedUnion('__typename', [
  eventOf('CampaignStarted', { campaignId: id }),
  eventOf('CampaignProgress', { campaignId: id, sent: count, delivered: count, failed: count, total: count }),
  eventOf('CampaignPaused', { campaignId: id, reason: z.string().nullable() }),
  eventOf('CampaignResumed', { campaignId: id }),
  eventOf('CampaignCompleted', { campaignId: id }),
  eventOf('CampaignFailed', { campaignId: id, error: z.string() }),
  eventOf('CampaignCancelled', { campaignId: id }),
]);

/** What the campaign workers' wake-up channel may carry. */
export const campaignWorkSchema = z.object({ campaignId: id, occurredAt: dateTime });
