import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';
import type { SessionRecord } from './model.js';

/**
 * Who may see and operate a session: its owner, and `admin` or `service`
 * users of its organisation. Everyone else reads it as missing.
 */
export function canAccessSession(viewer: Viewer, session: SessionRecord): boolean {
  if (session.orgId !== viewer.orgId) return false;
  return session.ownerId === viewer.id || hasRole(viewer, 'admin', 'service');
}

/** Creating a session (owned by the creator) needs `admin` or `agent`. */
export function assertCanCreateSession(viewer: Viewer): void {
  if (!hasRole(viewer, 'admin', 'agent')) throw forbidden('Creating a session needs the admin or agent role');
}

/** Reporting gateway state needs `service` or `admin`. */
export function assertCanReportSessionStatus(viewer: Viewer): void {
  if (!hasRole(viewer, 'service', 'admin')) {
    throw forbidden('Reporting session status needs the service or admin role');
  }
}
