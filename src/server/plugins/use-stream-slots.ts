import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../../auth/viewer.js';
import { rateLimited } from '../../errors.js';
import type { ConnectionSlots } from '../connection-slots.js';
import { releaseWhenGone } from '../request-lifetime.js';

/**
 * Counts each SSE subscription (one HTTP connection in graphql-sse's
 * distinct-connections mode) against MAX_CONNECTIONS_PER_USER, like a
 * WebSocket. WebSocket operations are skipped: their socket holds the slot.
 * Over the limit the subscription is refused with `RATE_LIMITED`.
 */
export function useStreamSlots(slots: ConnectionSlots, limit: number, onRefused: () => void = () => {}): Plugin {
  return {
    async onSubscribe({ args, setResultAndStopExecution }) {
      const context = args.contextValue as { viewer?: Viewer; transport?: string };
      if (!context.viewer || context.transport === 'websocket') return;
      const acquired = await slots.acquire(context.viewer);
      if (!acquired) {
        onRefused();
        setResultAndStopExecution({
          errors: [rateLimited(`Too many connections: at most ${limit} WebSockets and event streams per user`)],
        });
        return;
      }
      const release = releaseWhenGone(context, acquired);
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) return release();
          return { onEnd: release };
        },
        onSubscribeError: release,
      };
    },
  };
}
