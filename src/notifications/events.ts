import { z } from 'zod';
import { dateTime, eventOf, id, unread } from '../events/payload.js';
import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `notificationEvents` streams, exactly as published on the recipient's channel. */
export type NotificationEvent = ResolversUnionTypes<ResolversParentTypes>['NotificationEvent'];

/** A `NotificationRecord` as `NotificationCreated` carries it. */
const notification = z.object({
  id,
  orgId: unread<string>(),
  recipientId: unread<string>(),
  senderId: unread<string>(),
  seq: unread<number>(),
  kind: z.string(),
  title: z.string(),
  body: z.string().nullable(),
  data: z.unknown(),
  readAt: dateTime.nullable(),
  createdAt: dateTime,
});

/** What a user's notification channel may carry: checked by the bus before any subscriber sees it. */
export const notificationEventSchema = z.discriminatedUnion('__typename', [
  eventOf('NotificationCreated', { notification }),
  eventOf('NotificationRead', { notificationId: id }),
  eventOf('NotificationDeleted', { notificationId: id, wasUnread: z.boolean() }),
  eventOf('NotificationsBulkRead', { notificationIds: z.array(id) }),
]);
