import { z } from 'zod';
import { dateTime, eventOf, id } from '../events/payload.js';
import type { PresenceChanged } from '../generated/graphql.js';

/** What `presenceChanged` streams, exactly as published on a user's presence channel. */
export type PresenceEvent = PresenceChanged & {
  __typename: 'PresenceChanged';
  /** The record's `flips` after this transition: orders one user's transitions. */
  flip: number;
};

/** What a user's presence channel may carry: each subscriber's filter reads `userId` and `flip`. */
export const presenceEventSchema = eventOf('PresenceChanged', {
  userId: id,
  online: z.boolean(),
  lastSeenAt: dateTime,
  flip: z.int().nonnegative(),
});
