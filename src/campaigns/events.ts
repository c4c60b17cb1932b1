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
