import { forbidden } from '../errors.js';
import type { Viewer } from './viewer.js';

/**
 * Who may replace a connection's token: only the same user of the same
 * organisation. A refresh is no way to become someone else, so a token for
 * another `sub` or `org` is refused (`FORBIDDEN`) and the connection keeps
 * the token it had.
 */
export function assertSameIdentity(current: Viewer, next: Viewer): void {
  if (next.id !== current.id || next.orgId !== current.orgId) {
    throw forbidden('The new token must be for the same user and organisation as the connection');
  }
}

/** True when `next` lacks a role that `current` holds: what was allowed under `current` may not be any more. */
export function dropsRole(current: Viewer, next: Viewer): boolean {
  return current.roles.some((role) => !next.roles.includes(role));
}
