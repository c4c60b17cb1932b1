/** A notification as stored. */
export interface NotificationRecord {
  id: string;
  orgId: string;
  /** The one user who may see it. */
  recipientId: string;
  /** Who sent it (an `admin` or `service`), for audit. */
  senderId: string;
  /** Order of arrival within the organisation: the score of its index entries, and the paging cursor. */
  seq: number;
  kind: string;
  title: string;
  body: string | null;
  data: unknown;
  readAt: string | null;
  createdAt: string;
}

/** The documented bounds of a notification's fields (see `schema/notifications.graphql`). */
export const NOTIFICATION_LIMITS = {
  /** A machine-readable category such as `task.assigned`. */
  kind: /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/,
  title: 200,
  body: 4000,
  /** `data`, as UTF-8 JSON. */
  dataBytes: 16 * 1024,
  /** `notifications(limit:)`: default and largest page. */
  pageDefault: 50,
  pageMax: 200,
  /** `markAllNotificationsRead(limit:)`: default and most per call. */
  markAllDefault: 500,
  markAllMax: 1000,
} as const;
