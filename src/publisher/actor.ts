import { z } from 'zod';
import { identityId, identityName, identityRoles } from '../auth/claims.js';
import type { Role, Viewer } from '../auth/viewer.js';

/**
 * Who a publisher acts as. It holds no token: Redis access is its
 * credential. Every call is authorized exactly as a GraphQL call by a user
 * with this id and these roles in the call's organisation would be, and the
 * actor obeys the rules of a token's claims (`sub`, `roles`, `name`).
 */
export interface PublisherActor {
  /** Stands in `sub`: e.g. the service's name, recorded as author/sender. 1 to 128 characters, no blanks. */
  id: string;
  /**
   * Required, never implied: e.g. `['service']` to report gateway state and
   * send notifications, `['agent']` or `['admin']` for tasks and campaigns.
   */
  roles: readonly Role[];
  /** At most 200 characters. */
  name?: string;
}

/** The actor's shape, checked as a token's claims are: a missing or null id or roles, or an unknown role, is refused. */
const actorSchema = z.object({ id: identityId, roles: identityRoles, name: identityName.optional() });

/**
 * Checks a configured actor; the message names the offending field, for a
 * {@link PublishError} at `createPublisher`. Returns the actor with its roles
 * deduplicated, or an error message.
 */
export function parseActor(actor: unknown): { actor: PublisherActor } | { error: string } {
  const parsed = actorSchema.safeParse(actor);
  if (parsed.success) return { actor: { ...parsed.data, roles: [...new Set(parsed.data.roles)] } };
  const issue = parsed.error.issues[0]!;
  const field = ['actor', ...issue.path.map(String)].join('.');
  return { error: `${field} ${describe(issue)}` };
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.path[0] === 'roles') return 'must be a list of admin, agent or service (required, never implied)';
  if (issue.path[0] === 'id') return 'must be 1 to 128 characters without blanks or control characters';
  if (issue.path[0] === 'name') return 'must be a string of at most 200 characters';
  return 'must be an object { id, roles, name? }';
}

/** The viewer a publisher call runs as, in the organisation `orgId`. */
export function actorViewer(actor: PublisherActor, orgId: string): Viewer {
  return {
    id: actor.id,
    orgId,
    roles: actor.roles,
    name: actor.name ?? null,
    expiresAt: Number.POSITIVE_INFINITY,
  };
}
