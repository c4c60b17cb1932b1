import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `notificationEvents` streams, exactly as published on the recipient's channel. */
export type NotificationEvent = ResolversUnionTypes<ResolversParentTypes>['NotificationEvent'];
