import type { ExecutionResult } from 'graphql';
import { mapAsyncIterator, type Plugin } from 'graphql-yoga';
import { offsetOf, parseOffset, withResumePoint } from '../../events/offsets.js';
import { withOffset } from '../fanout.js';
import { createSourceEventStream, execute } from '../graphql-cjs.js';

/**
 * Resume for SSE subscriptions (WebSocket ones take theirs from
 * `connection_init`, see ../websocket.ts): a stream opened with a
 * `Last-Event-ID` header (a browser's `EventSource` sends it by itself when
 * it reconnects) first replays what followed that offset; a malformed one
 * is ignored (the stream is live only). Every event is written with its
 * offset in the standard `id:` field (and as `extensions.offset`, as on
 * WebSocket).
 *
 * yoga's SSE writer puts `data: <result>` for each result, serialised by
 * the result's own `stringify` when it has one: an event's `stringify`
 * appends the `id:` line to its data line.
 */
export function useResumableStreams(): Plugin {
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const context = args.contextValue as { transport?: string; request?: Request };
      if (context.transport === 'websocket') return;
      const after = parseOffset(context.request?.headers.get('last-event-id'));
      setSubscribeFn(async (subscribeArgs) => {
        const source = await withResumePoint(after, () => createSourceEventStream(subscribeArgs));
        if (!(Symbol.asyncIterator in source)) return source;
        return mapAsyncIterator(source, async (event: unknown) =>
          withEventId(await execute({ ...subscribeArgs, rootValue: event }), offsetOf(event)),
        ) as never;
      });
    },
  };
}

/** A result whose SSE event carries `offset` as its id. */
function withEventId(result: ExecutionResult, offset: string | undefined): ExecutionResult {
  if (offset === undefined) return result;
  // Offsets are checked where they enter (parseOffset): no line break can end the field.
  const stringify = (sanitised: unknown) => `${JSON.stringify(sanitised)}\nid: ${offset}`;
  return Object.assign(withOffset(result, offset), { stringify });
}
