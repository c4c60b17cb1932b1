import { z } from 'zod';

/**
 * Building blocks of the payload schemas each domain declares next to its
 * events (`src/<domain>/events.ts`). Events arriving from Redis are
 * untrusted input (another version, another process, anyone with access to
 * Redis), so the bus checks each one against its channel's schema before any
 * listener sees it.
 *
 * The schemas only check: the bus hands listeners the payload it received,
 * never zod's output, so fields a newer publisher adds are neither refused
 * nor stripped, and one object still reaches every subscriber of a process.
 * Hence no transforms or defaults here.
 */

/** A non-empty id. */
export const id = z.string().min(1);

/** An ISO 8601 date in UTC, as `Date.prototype.toISOString` writes it (the `DateTime` scalar). */
export const dateTime = z.iso.datetime();

/** Every value of a GraphQL enum: typed as a `Record`, the compiler makes sure none is left out. */
export function graphqlEnum<Value extends string>(values: Record<Value, true>) {
  return z.enum(Object.keys(values) as [Value, ...Value[]]);
}

/**
 * A field an event carries (the publisher sends whole records) that nothing
 * receiving it reads: not checked, so an event built from a record an older
 * version wrote without it still gets through. Typed as the record's field
 * (though it may be absent), so the schema still matches its channel's
 * payload type.
 */
export function unread<Value>() {
  return z.custom<Value>(() => true).optional() as unknown as z.ZodType<Value>;
}

/** One member of an event union: its `__typename`, `occurredAt`, and its own fields. */
export function eventOf<Typename extends string, Shape extends z.ZodRawShape>(typename: Typename, shape: Shape) {
  return z.object({ __typename: z.literal(typename), occurredAt: dateTime, ...shape });
}
