import { z } from 'zod';
import { ROLES } from './viewer.js';

/**
 * Rules every identity obeys, however it is proven (a verified JWT, or a
 * publisher's configured actor): one definition, so no path admits an id
 * or a role the other would refuse.
 */

/** User and organisation ids: 1 to 128 characters, no blanks or control characters. */
export const identityId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\s\p{Cc}]+$/u, 'must be 1 to 128 characters without blanks or control characters');

/** Roles: a list (possibly empty) of known roles; never implied. */
export const identityRoles = z.array(z.enum(ROLES)).max(ROLES.length);

/** A display name. */
export const identityName = z.string().max(200);
