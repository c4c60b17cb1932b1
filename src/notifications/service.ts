import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import { DEFAULT_RETENTION, type RetentionConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import type { SendNotificationInput } from '../generated/graphql.js';
import { changeEvent } from '../events/change-event.js';
import { createOnce, idempotencyKey, idempotencyScope } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../lib/json.js';
import { keyPart } from '../lib/keys.js';
import { requireId, requireIntInRange, requireText, requireUserId, textOrNull } from '../lib/validate.js';
import { retentionOf, type ChangeEvent, type IndexEntry, type Storage } from '../storage/index.js';
import { assertCanSendNotifications, isRecipient } from './access.js';
import type { NotificationEvent } from './events.js';
import { NOTIFICATION_LIMITS, type NotificationRecord } from './model.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** Notifications: state, authorization and events, whatever the transport. */
export type NotificationService = ReturnType<typeof createNotificationService>;

/** One user's notifications, and the unread ones among them: ordered indexes, newest highest. */
const inbox = (orgId: string, userId: string) => `inbox:${keyPart(orgId)}:${keyPart(userId)}`;
const unread = (orgId: string, userId: string) => `unread:${keyPart(orgId)}:${keyPart(userId)}`;

/**
 * The indexes a notification belongs in. Moved in the same atomic write as
 * the notification itself, so the unread index's size is the unread count,
 * right on every instance.
 */
const indexesOf = (notification: NotificationRecord): IndexEntry[] => {
  const { orgId, recipientId, seq } = notification;
  const entries = [{ index: inbox(orgId, recipientId), score: seq }];
  if (notification.readAt === null) entries.push({ index: unread(orgId, recipientId), score: seq });
  return entries;
};

/** Notifications marked read per round of `markAllRead` (each is one atomic update). */
const MARK_ALL_BATCH = 100;

/** A bounded JSON value; null when absent. */
function optionalData(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  // Checked first: a value nested thousands deep would overflow JSON.stringify and the storage's copy.
  if (exceedsJsonDepth(value)) {
    throw badInput(`data may nest at most ${MAX_JSON_DEPTH} levels of objects and arrays`, 'data');
  }
  if (Buffer.byteLength(JSON.stringify(value)) > NOTIFICATION_LIMITS.dataBytes) {
    throw badInput(`data must be at most ${NOTIFICATION_LIMITS.dataBytes} bytes as JSON`, 'data');
  }
  return value;
}

/** Creates the notifications domain over a storage backend and an event bus. */
export function createNotificationService({
  storage,
  bus,
  retention = DEFAULT_RETENTION,
}: {
  storage: Storage;
  bus: EventBus;
  retention?: Pick<RetentionConfig, 'notificationsSeconds'>;
}) {
  /** An organisation's notifications (in its own slot on a Redis Cluster). */
  const notifications = (orgId: string) =>
    storage.forOrg(orgId).collection<NotificationRecord>('notifications', retentionOf(retention.notificationsSeconds));

  const publish = (orgId: string, userId: string, event: NotificationEvent) =>
    bus.publish(topics.notifications(orgId, userId), event);
  /** A notification event, to record with the change that produces it. */
  const recorded = (orgId: string, userId: string, event: NotificationEvent) =>
    changeEvent(topics.notifications(orgId, userId), event);

  /** The viewer's own notification; NOT_FOUND for a missing one and for anyone else's alike. */
  const getOwn = async (viewer: Viewer, id: string): Promise<NotificationRecord> => {
    requireId('id', id);
    const notification = await notifications(viewer.orgId).get(id);
    if (!notification || !isRecipient(viewer, notification)) throw notFound('Notification', id);
    return notification;
  };

  /**
   * Sets `readAt` on one of the viewer's unread notifications, recording
   * `events` with it; unchanged when already read.
   */
  const setRead = (viewer: Viewer, id: string, readAt: string, events?: () => ChangeEvent[]) =>
    notifications(viewer.orgId).update(
      id,
      (notification) =>
        isRecipient(viewer, notification) && notification.readAt === null ? { ...notification, readAt } : undefined,
      indexesOf,
      events,
    );

  return {
    /** The viewer's notifications, newest first, a page at a time. */
    async list(
      viewer: Viewer,
      { unreadOnly, limit, before }: { unreadOnly?: boolean | null; limit?: number | null; before?: string | null },
    ): Promise<NotificationRecord[]> {
      const pageSize = requireIntInRange('limit', limit ?? NOTIFICATION_LIMITS.pageDefault, {
        min: 1,
        max: NOTIFICATION_LIMITS.pageMax,
      });
      const below = before == null ? undefined : (await getOwn(viewer, requireId('before', before))).seq;
      const index = (unreadOnly ? unread : inbox)(viewer.orgId, viewer.id);
      return notifications(viewer.orgId).list(index, { order: 'desc', below, limit: pageSize });
    },

    unreadCount(viewer: Viewer): Promise<number> {
      return notifications(viewer.orgId).count(unread(viewer.orgId, viewer.id));
    },

    /**
     * Sends a notification to a user of the sender's organisation; it starts
     * unread. With an idempotency key, a repeat returns the first call's.
     */
    async send(viewer: Viewer, input: SendNotificationInput, key?: string | null): Promise<NotificationRecord> {
      assertCanSendNotifications(viewer);
      const recipientId = requireUserId('recipientId', input.recipientId);
      if (!NOTIFICATION_LIMITS.kind.test(input.kind)) {
        throw badInput(
          'kind must be 1 to 64 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
          'kind',
        );
      }
      const title = requireText('title', input.title, { max: NOTIFICATION_LIMITS.title });
      const body = input.body == null ? null : textOrNull('body', input.body, { max: NOTIFICATION_LIMITS.body });
      const data = optionalData(input.data);
      return createOnce(storage.forOrg(viewer.orgId), {
        claim: idempotencyScope(viewer, 'sendNotification', idempotencyKey(key)),
        args: { recipientId, kind: input.kind, title, body, data },
        find: async (id) => {
          const found = await notifications(viewer.orgId).get(id);
          return found?.orgId === viewer.orgId && found.senderId === viewer.id ? found : undefined;
        },
        create: async (id) => {
          const notification: NotificationRecord = {
            id,
            orgId: viewer.orgId,
            recipientId,
            senderId: viewer.id,
            seq: await storage.forOrg(viewer.orgId).increment(`notifications:${keyPart(viewer.orgId)}`),
            kind: input.kind,
            title,
            body,
            data,
            readAt: null,
            createdAt: now(),
          };
          const created = recorded(notification.orgId, recipientId, {
            __typename: 'NotificationCreated',
            notification,
            occurredAt: notification.createdAt,
          });
          return (await notifications(viewer.orgId).insert(notification, indexesOf(notification), [created]))
            ? notification
            : undefined;
        },
      });
    },

    /** Marks one of the viewer's notifications read; only the first time changes it and publishes. */
    async markRead(viewer: Viewer, id: string): Promise<NotificationRecord> {
      requireId('id', id);
      const readAt = now();
      const result = await setRead(viewer, id, readAt, () => [
        recorded(viewer.orgId, viewer.id, { __typename: 'NotificationRead', notificationId: id, occurredAt: readAt }),
      ]);
      if (!result || !isRecipient(viewer, result.before)) throw notFound('Notification', id);
      return result.after;
    },

    /**
     * Marks up to `limit` of the viewer's unread notifications read, newest
     * first; resolves how many this call changed (one marked meanwhile by
     * another call counts there). Bounded, so one call's work and event are
     * too: fewer than `limit` means none was left.
     */
    async markAllRead(viewer: Viewer, limit?: number | null): Promise<number> {
      const most = requireIntInRange('limit', limit ?? NOTIFICATION_LIMITS.markAllDefault, {
        min: 1,
        max: NOTIFICATION_LIMITS.markAllMax,
      });
      const ids = await notifications(viewer.orgId).ids(unread(viewer.orgId, viewer.id), {
        order: 'desc',
        limit: most,
      });
      const readAt = now();
      const changed: string[] = [];
      for (let start = 0; start < ids.length; start += MARK_ALL_BATCH) {
        const batch = ids.slice(start, start + MARK_ALL_BATCH);
        const results = await Promise.all(batch.map((id) => setRead(viewer, id, readAt)));
        results.forEach((result, i) => result?.changed && changed.push(batch[i]!));
      }
      if (changed.length > 0) {
        await publish(viewer.orgId, viewer.id, {
          __typename: 'NotificationsBulkRead',
          notificationIds: changed,
          occurredAt: readAt,
        });
      }
      return changed.length;
    },

    async remove(viewer: Viewer, id: string): Promise<boolean> {
      const own = await getOwn(viewer, id);
      const occurredAt = now();
      const removed = await notifications(viewer.orgId).remove(
        id,
        [inbox(own.orgId, own.recipientId), unread(own.orgId, own.recipientId)],
        (gone) => [
          recorded(viewer.orgId, viewer.id, {
            __typename: 'NotificationDeleted',
            notificationId: id,
            wasUnread: gone.readAt === null,
            occurredAt,
          }),
        ],
      );
      if (!removed) throw notFound('Notification', id);
      return true;
    },

    /** The viewer's own notification events; ends when `signal` aborts. */
    subscribe(viewer: Viewer, signal?: AccessSignal) {
      return subscribe(bus, topics.notifications(viewer.orgId, viewer.id), { signal });
    },
  };
}
