import type { Viewer } from '../auth/viewer.js';
import { userIdList } from '../conversations/rules.js';

/** Users one `presenceChanged` may watch. */
const MAX_WATCHED_USERS = 100;

/**
 * Presence is visible to every member of the same organisation, and only
 * to them: a viewer's ids are always read in their own organisation, so
 * the same id elsewhere is another user they can never see.
 */
export function presenceScope(viewer: Viewer, userIds: readonly string[]): { orgId: string; userIds: string[] } {
  return { orgId: viewer.orgId, userIds: userIdList('userIds', userIds, { min: 1, max: MAX_WATCHED_USERS }) };
}
