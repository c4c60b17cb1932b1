/**
 * A pub/sub channel name that carries the type of what is published on it,
 * so `publish` and `subscribe` cannot disagree about a payload's shape.
 */
export type Channel<Payload> = string & { readonly __payload?: Payload };

/** Names a channel whose payloads are `Payload`. */
export function channel<Payload>(name: string): Channel<Payload> {
  return name as Channel<Payload>;
}

/** The payload type a channel carries. */
export type PayloadOf<C> = C extends Channel<infer Payload> ? Payload : never;
