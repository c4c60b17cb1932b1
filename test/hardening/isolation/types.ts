import type { TokenClaims } from '../../../src/auth/jwt.js';
import type { TestServer } from '../../support/harness.js';

/**
 * The tenant isolation matrix (test/hardening/isolation.test.ts) walks every
 * root field of the schema and needs one {@link FieldFixture} per field,
 * keyed `Query.x`, `Mutation.y`, `Subscription.z`. Each domain keeps its
 * fixtures in `test/hardening/isolation/<domain>.ts`, exporting
 * `fixtures: Fixtures`; the test loads every file of this folder.
 */
export type Fixtures = Record<string, FieldFixture>;

/**
 * Who attacks: a user of another organisation holding every role and the
 * owner's own user id (so nothing keyed by user id alone passes), or a
 * same-organisation user without the needed role.
 */
export type AttackerKind = 'foreignOrg' | 'sameOrgWithoutRole';

/** What the test provides: a fresh server, and the owner of the resources under attack (org-a). */
export interface World {
  server: TestServer;
  /** The owner of the resources (org-a, role agent). */
  owner: TokenClaims;
  /** A signed token for `claims`. */
  token(claims: TokenClaims): Promise<string>;
  /** Runs an operation over HTTP and fails on any error. */
  ok(query: string, variables: Record<string, unknown>, claims: TokenClaims): Promise<any>;
}

export interface FieldFixture {
  /** The same-organisation user who lacks what the field needs (role, ownership, membership). */
  sameOrgWithoutRole: TokenClaims;
  /** Creates the owner's resources and returns the attempt `kind` makes on them. */
  arrange(world: World, kind: AttackerKind): Promise<Attempt>;
}

export interface Attempt {
  /** The operation the attacker sends; it must select the field under test. */
  query: string;
  variables?: Record<string, unknown>;
  /**
   * `denied`: an error coded NOT_FOUND or FORBIDDEN and no data for the field
   * (a subscription: an error, and no event).
   * `own`: the operation may succeed, but only about the attacker's own
   * organisation or self (e.g. `me`, lists, creating in their own org); none
   * of the secrets, and no event of the owner's.
   * `allowed`: the contract lets this user read it (any member may read
   * tasks); still nothing may change.
   */
  outcome: 'denied' | 'own' | 'allowed';
  /** The exact `data` the attacker must get, where secrets cannot show it (counts). */
  expected?: unknown;
  /**
   * Values only someone allowed to see the owner's resources could know
   * (names, QR codes, ids the attacker was not given): none may appear in
   * anything the attacker receives.
   */
  secrets: string[];
  /** The owner's view of everything the field could change; it must read the same after the attempt. */
  snapshot(): Promise<unknown>;
  /** Subscriptions: makes the owner's resource emit events (as its owner or a gateway would). */
  trigger?(): Promise<void>;
  /** Subscriptions: someone allowed to subscribe, who must receive the triggered events. */
  witness?: TokenClaims;
  /**
   * Subscriptions with outcome `own` that stream the attacker's own
   * organisation by themselves (the status feed): events must come, and
   * none may hold a secret.
   */
  streamsOwn?: boolean;
}
