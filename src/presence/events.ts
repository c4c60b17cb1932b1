import type { PresenceChanged } from '../generated/graphql.js';

/** What `presenceChanged` streams, exactly as published on a user's presence channel. */
export type PresenceEvent = PresenceChanged & {
  __typename: 'PresenceChanged';
  /** The record's `flips` after this transition: orders one user's transitions. */
  flip: number;
};
