import { ROLES, type Role, type Viewer } from '../auth/viewer.js';

/**
 * Who a publisher acts as. It holds no token: Redis access is its
 * credential. Every call is authorized exactly as a GraphQL call by a user
 * with this id and these roles in the call's organisation would be.
 */
export interface PublisherActor {
  /** Stands in `sub`: e.g. the service's name, recorded as author/sender. */
  id: string;
  /** Default `['service']`: may report gateway state and send notifications. */
  roles?: readonly Role[];
  name?: string;
}

/** The viewer a publisher call runs as, in the organisation `orgId`. */
export function actorViewer(actor: Required<Omit<PublisherActor, 'name'>> & PublisherActor, orgId: string): Viewer {
  return {
    id: actor.id,
    orgId,
    roles: actor.roles.filter((role) => ROLES.includes(role)),
    name: actor.name ?? null,
    expiresAt: Number.POSITIVE_INFINITY,
  };
}
