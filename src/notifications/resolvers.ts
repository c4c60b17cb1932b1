import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Notifications: thin resolvers over {@link NotificationService}. */
export const notificationResolvers: Resolvers = {
  Query: {
    notifications: (_, args, { viewer, services }) => services.notifications.list(viewer, args),
    unreadNotificationCount: (_, __, { viewer, services }) => services.notifications.unreadCount(viewer),
  },
  Mutation: {
    sendNotification: (_, { input, idempotencyKey }, { viewer, services }) =>
      services.notifications.send(viewer, input, idempotencyKey),
    markNotificationRead: (_, { id }, { viewer, services }) => services.notifications.markRead(viewer, id),
    markAllNotificationsRead: (_, { limit }, { viewer, services }) => services.notifications.markAllRead(viewer, limit),
    deleteNotification: (_, { id }, { viewer, services }) => services.notifications.remove(viewer, id),
  },
  Subscription: {
    notificationEvents: {
      subscribe: (_, __, { viewer, services, accessSignal }) =>
        services.notifications.subscribe(viewer, accessSignal()),
      resolve: yieldedEvent,
    },
  },
};
