import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken, InvalidTokenError, type VerifyToken } from '../auth/jwt.js';
import type { Viewer } from '../auth/viewer.js';
import type { Logger } from '../logger.js';
import { CloseCode } from './close-codes.js';
import type { LiveCounts } from './metrics.js';
import type { OriginPolicy } from './origin.js';
import { untilExpiry, type Pipeline } from './yoga.js';

/** A WebSocket's authenticated state, from `connection_init` until close. */
interface Connection {
  viewer: Viewer;
  /** Aborts on close: every subscription of the socket ends. */
  closed: AbortController;
  expiry: NodeJS.Timeout;
  /** From {@link WebSocketOptions.onViewerConnected}: called once when the socket closes. */
  disconnected: () => void;
}

export interface WebSocketOptions {
  httpServer: Server;
  pipeline: Pipeline;
  verifyToken: VerifyToken;
  originAllowed: OriginPolicy;
  counts: LiveCounts;
  logger: Logger;
  /** True once shutdown has begun: new upgrades are refused. */
  isShuttingDown: () => boolean;
  path?: string;
  /** Largest accepted message, in bytes. */
  maxPayloadBytes?: number;
  /** Milliseconds between server pings; a socket that misses one is dropped. */
  keepAliveMs?: number;
  /** Milliseconds a socket may wait before sending `connection_init`. */
  connectionInitWaitTimeoutMs?: number;
  /**
   * Told when a socket has authenticated (presence); the function it returns
   * is called once when that socket closes, for whatever reason.
   */
  onViewerConnected?: (viewer: Viewer) => () => void;
}

/**
 * The WebSocket transport: graphql-ws (`graphql-transport-ws`) on `ws`,
 * sharing the HTTP port and path. It vets the origin before the upgrade,
 * authenticates at `connection_init`, closes the socket 4403 when the token
 * expires, and runs every operation through the shared pipeline.
 */
export function attachWebSocket(options: WebSocketOptions) {
  const {
    httpServer,
    pipeline,
    verifyToken,
    originAllowed,
    counts,
    logger,
    isShuttingDown,
    path = '/graphql',
    maxPayloadBytes = 256 * 1024,
    keepAliveMs = 12_000,
    connectionInitWaitTimeoutMs = 3_000,
    onViewerConnected = () => () => {},
  } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxPayloadBytes });
  const connections = new WeakMap<WebSocket, Connection>();

  const refuse = (socket: Duplex, status: number, reason: string) => {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (pathname !== path) return refuse(socket, 404, 'Not Found');
    if (isShuttingDown()) return refuse(socket, 503, 'Service Unavailable');
    // Cross-site WebSocket hijacking: graphql-ws does not look at Origin.
    if (!originAllowed(request)) {
      logger.info({ origin: request.headers.origin }, 'websocket upgrade refused: origin not allowed');
      return refuse(socket, 403, 'Forbidden');
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  httpServer.on('upgrade', onUpgrade);

  wss.on('connection', (socket) => {
    counts.websockets++;
    socket.once('close', () => {
      counts.websockets--;
      const connection = connections.get(socket);
      if (connection) {
        clearTimeout(connection.expiry);
        connection.closed.abort();
        connection.disconnected();
      }
    });
  });

  const server = useServer(
    {
      connectionInitWaitTimeout: connectionInitWaitTimeoutMs,
      execute: (args) => (args.rootValue as Envelope).execute(args),
      subscribe: (args) => (args.rootValue as Envelope).subscribe(args),
      onConnect: async ({ connectionParams, extra }) => {
        const params = connectionParams ?? {};
        const token = bearerToken(params.authorization ?? params.Authorization ?? params.token);
        if (!token) return false;
        let viewer: Viewer;
        try {
          viewer = await verifyToken(token);
        } catch (error) {
          if (!(error instanceof InvalidTokenError)) logger.error({ err: error }, 'token verification failed');
          return false;
        }
        const socket = extra.socket;
        if (socket.readyState !== socket.OPEN) return false;
        connections.set(socket, {
          viewer,
          closed: new AbortController(),
          expiry: scheduleExpiry(socket, viewer),
          disconnected: onViewerConnected(viewer),
        });
        return true;
      },
      onSubscribe: async ({ extra }, _id, payload) => {
        const connection = connections.get(extra.socket);
        if (!connection) return [new GraphQLError('Not authenticated')];
        const { schema, execute, subscribe, contextFactory, parse, validate } = pipeline.getEnveloped({
          req: extra.request,
          params: payload,
          viewer: connection.viewer,
          signal: connection.closed.signal,
        });
        try {
          const document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const args: ExecutionArgs = {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe } satisfies Envelope,
          };
          return args;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
      },
    },
    wss,
    keepAliveMs,
  );

  function scheduleExpiry(socket: WebSocket, viewer: Viewer): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (Date.now() < viewer.expiresAt) {
        connections.get(socket)!.expiry = scheduleExpiry(socket, viewer);
        return;
      }
      socket.close(CloseCode.Forbidden, 'Forbidden: token expired');
    }, untilExpiry(viewer));
    timer.unref();
    return timer;
  }

  return {
    /** Closes every socket with 1001 and stops accepting upgrades. */
    async close() {
      httpServer.off('upgrade', onUpgrade);
      await server.dispose();
    },
  };
}

/** The pipeline's own execute and subscribe, carried to graphql-ws as the root value. */
interface Envelope {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
