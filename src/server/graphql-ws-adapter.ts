import type { IncomingMessage } from 'node:http';
import { handleProtocols, makeServer, MessageType, parseMessage, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { CloseCode } from './close-codes.js';

/** What graphql-ws hands our hooks about a socket. */
export interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
  /** Applies the slow-consumer rule after a write made outside graphql-ws (the shared fan-out). */
  watchBuffer: () => void;
}

export interface AdapterOptions {
  logger: Logger;
  /** Milliseconds between pings; a socket that has not answered the previous one is terminated. 0: none. */
  keepAliveMs: number;
  /** Bytes queued for a socket (ws `bufferedAmount`) above which it counts as slow. */
  maxBufferedBytes: number;
  /** How long a socket may stay above `maxBufferedBytes` before it is cut off. */
  slowConsumerGraceMs: number;
}

/** Message types only a server may send: a client sending one breaks the protocol (4400). */
const SERVER_ONLY = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

/**
 * graphql-ws's protocol engine (`makeServer`) on `ws` sockets. It replaces
 * `useServer` from `graphql-ws/use/ws`, whose behaviour it keeps (pings every
 * `keepAliveMs`, terminating a socket that missed the previous pong; 1001 on
 * dispose) while fixing what a server facing the internet cannot have:
 * - a client message of a server-only type (`next`, `error`,
 *   `connection_ack`) made `useServer` close with 4500; here it is 4400;
 * - close reasons never carry an error's text, and nothing goes to console;
 * - a socket's own `error` events never become uncaught exceptions;
 * - a client that stops reading is cut off (4413, see {@link cutOffSlowConsumer})
 *   once it stays above `maxBufferedBytes` for `slowConsumerGraceMs`; sends wait
 *   for the socket to take their data, so a stalled client also stalls its
 *   subscriptions' loops instead of piling up frames.
 */
export function serveGraphqlWs<P extends Record<string, unknown>>(
  wss: WebSocketServer,
  serverOptions: ServerOptions<P, SocketExtra>,
  options: AdapterOptions,
) {
  const { logger, keepAliveMs, maxBufferedBytes, slowConsumerGraceMs } = options;
  const server = makeServer<P, SocketExtra>(serverOptions);
  wss.options.handleProtocols = handleProtocols;

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws has already answered a protocol violation (e.g. 1009 for a too big frame).
    socket.on('error', (error) => logger.debug({ err: error.message }, 'websocket error'));

    let awaitingPong = false;
    socket.on('pong', () => (awaitingPong = false));
    const pinger =
      keepAliveMs > 0
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            if (awaitingPong) return socket.terminate();
            awaitingPong = true;
            socket.ping();
          }, keepAliveMs)
        : undefined;

    let slowSince: NodeJS.Timeout | undefined;
    const watchBuffer = () => {
      if (socket.bufferedAmount <= maxBufferedBytes) {
        clearTimeout(slowSince);
        slowSince = undefined;
      } else if (!slowSince && socket.readyState === socket.OPEN) {
        slowSince = setTimeout(() => {
          slowSince = undefined;
          if (socket.bufferedAmount > maxBufferedBytes) {
            logger.info({ buffered: socket.bufferedAmount }, 'websocket cut off: slow consumer');
            cutOffSlowConsumer(socket);
          }
        }, slowConsumerGraceMs);
      }
    };

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            // Resolves once the socket took the data (or closed): backpressure for the sender.
            socket.send(data, () => {
              watchBuffer();
              resolve();
            });
            watchBuffer();
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (data) => {
            const text = String(data);
            try {
              await handle(text);
            } catch (error) {
              if (socket.readyState !== socket.OPEN) return;
              if (isServerOnlyMessage(text)) return socket.close(CloseCode.BadRequest, 'Invalid message received');
              logger.error({ err: error }, 'websocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      { socket, request, watchBuffer },
    );

    socket.once('close', (code, reason) => {
      clearInterval(pinger);
      clearTimeout(slowSince);
      void closed(code, String(reason));
    });
  });

  return {
    /** Closes every socket with 1001 and stops the server. */
    async dispose() {
      for (const client of wss.clients) client.close(CloseCode.GoingAway, 'Going away');
      wss.removeAllListeners('connection');
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * Closes a socket whose client does not read (4413). The close frame waits
 * behind what is already queued, which a stalled client will never take,
 * so the connection is dropped a second later whatever happens.
 */
export function cutOffSlowConsumer(socket: WebSocket): void {
  if (socket.readyState === socket.CLOSED) return;
  socket.close(CloseCode.SlowConsumer, 'Slow consumer');
  setTimeout(() => socket.terminate(), 1000).unref();
}

function isServerOnlyMessage(text: string): boolean {
  try {
    return SERVER_ONLY.has(parseMessage(text).type);
  } catch {
    return false;
  }
}
