import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';
import type { NotificationRecord } from './model.js';

/**
 * Only the recipient may see, mark or delete a notification. To anyone
 * else, an admin of the same organisation included, it reads as missing.
 */
export function isRecipient(viewer: Viewer, notification: NotificationRecord): boolean {
  return notification.orgId === viewer.orgId && notification.recipientId === viewer.id;
}

/** Sending a notification needs `admin` or `service`. */
export function assertCanSendNotifications(viewer: Viewer): void {
  if (!hasRole(viewer, 'admin', 'service')) throw forbidden('Sending notifications needs the admin or service role');
}
