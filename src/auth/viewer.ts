/** Roles a token may carry. */
export const ROLES = ['admin', 'agent', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller, as proven by a verified JWT. */
export interface Viewer {
  /** `sub`: the user (or service) id. */
  id: string;
  /** `org`: the tenant; nothing is ever visible across organisations. */
  orgId: string;
  roles: readonly Role[];
  name: string | null;
  /** `exp` in epoch milliseconds; the viewer stops being valid then. */
  expiresAt: number;
  /** `iat` in epoch milliseconds, when the token has one: what a revocation of the user's tokens is compared with. */
  issuedAt?: number;
}

/** True when the viewer holds at least one of `roles`. */
export function hasRole(viewer: Viewer, ...roles: Role[]): boolean {
  return roles.some((role) => viewer.roles.includes(role));
}
