import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Campaigns: thin resolvers over {@link CampaignService}. */
export const campaignResolvers: Resolvers = {
  Query: {
    campaign: (_, { id }, { viewer, services }) => services.campaigns.get(viewer, id),
    campaigns: (_, args, { viewer, services }) => services.campaigns.list(viewer, args),
  },
  Mutation: {
    createCampaign: (_, { input, idempotencyKey }, { viewer, services }) =>
      services.campaigns.create(viewer, input, idempotencyKey),
    startCampaign: (_, { id }, { viewer, services }) => services.campaigns.start(viewer, id),
    pauseCampaign: (_, { id }, { viewer, services }) => services.campaigns.pause(viewer, id),
    resumeCampaign: (_, { id }, { viewer, services }) => services.campaigns.resume(viewer, id),
    cancelCampaign: (_, { id }, { viewer, services }) => services.campaigns.cancel(viewer, id),
  },
  Subscription: {
    campaignEvents: {
      subscribe: (_, { campaignId }, { viewer, services, accessSignal }) =>
        services.campaigns.subscribe(viewer, campaignId, accessSignal()),
      resolve: yieldedEvent,
    },
  },
};
