import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';

/**
 * The admin API is for `admin` users, and only over their own
 * organisation: the organisation every admin operation is confined to
 * (another organisation's user id simply matches nothing there).
 */
export function adminOrganisation(viewer: Viewer): string {
  if (!hasRole(viewer, 'admin')) throw forbidden('The admin API needs the admin role');
  return viewer.orgId;
}
