import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../../auth/viewer.js';
import type { PresenceService } from '../../presence/service.js';
import { releaseWhenGone } from '../request-lifetime.js';

/**
 * Counts each open SSE stream as one of the viewer's connections for
 * presence, as a WebSocket is counted (the contract: online while any
 * connection is open). WebSocket operations are skipped: their socket is
 * counted once when it authenticates.
 */
export function useStreamPresence(presence: Pick<PresenceService, 'connect'>): Plugin {
  return {
    async onSubscribe({ args }) {
      const context = args.contextValue as { viewer?: Viewer; transport?: string };
      if (!context.viewer || context.transport === 'websocket') return;
      const release = releaseWhenGone(context, await presence.connect(context.viewer));
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
