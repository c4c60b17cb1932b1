import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken, InvalidTokenError, type VerifyToken } from '../auth/jwt.js';
import type { ConnectionRegistry, Registration } from '../admin/registry.js';
import type { Viewer } from '../auth/viewer.js';
import type { Limits } from '../config.js';
import { rateLimited, unauthenticated } from '../errors.js';
import type { EventHistory } from '../events/history.js';
import { withResumePoint, type Offset } from '../events/offsets.js';
import { SLOW_CONSUMER_CODE, withOverflowHandler } from '../events/subscribe.js';
import type { Logger } from '../logger.js';
import { CloseCode } from './close-codes.js';
import type { ConnectionSlots, ReleaseSlot } from './connection-slots.js';
import { FANOUT, type FanoutTarget } from './fanout.js';
import { closeSocket, serveGraphqlWs } from './graphql-ws-adapter.js';
import { countRefusal, countSubscription, type LiveCounts } from './metrics.js';
import type { OriginPolicy } from './origin.js';
import { publicError, publicResult } from './public-error.js';
import { createGate } from './init-gate.js';
import { answerResume } from './resume.js';
import { countsAsDelivery } from '../status/counters.js';
import { rootFieldOf } from './root-field.js';
import { createSchedule } from './schedule.js';
import type { SlowConsumerPolicy } from './slow-consumers.js';
import { createSocketToken, type SocketToken } from './socket-token.js';
import { createErrorMasker, type Pipeline } from './yoga.js';

/** A WebSocket's authenticated state, from `connection_init` until close. */
interface Connection {
  /** Who its operations run as, until when; closed with the socket (every subscription ends). */
  token: SocketToken;
  releaseSlot: ReleaseSlot;
  /** From {@link WebSocketOptions.onViewerConnected}: called once when the socket closes. */
  disconnected: () => void;
  /** Its entry in the admin API's registry. */
  registration: Registration;
  /** Where each resumed subscription id replays from, until it subscribes (once); none: nothing to resume. */
  resumePoints: Map<string, Offset> | undefined;
}

export interface WebSocketOptions {
  httpServer: Server;
  pipeline: Pipeline;
  verifyToken: VerifyToken;
  originAllowed: OriginPolicy;
  counts: LiveCounts;
  logger: Logger;
  /** Per-user connection slots (MAX_CONNECTIONS_PER_USER). */
  slots: ConnectionSlots;
  /** When a client that does not read is cut off (4413), and where that is counted. */
  slowConsumers: SlowConsumerPolicy;
  /** Where authenticated sockets are listed for the admin API, which closes them with 4403. */
  registry: Pick<ConnectionRegistry, 'open'>;
  limits: Pick<
    Limits,
    | 'wsMaxPayloadBytes'
    | 'wsKeepAliveMs'
    | 'wsConnectionInitTimeoutMs'
    | 'wsMaxConcurrentInits'
    | 'maxSubscriptionsPerConnection'
    | 'maxConnectionsPerUser'
  >;
  /** True once shutdown has begun: new upgrades are refused. */
  isShuttingDown: () => boolean;
  path?: string;
  /**
   * Told when a socket has authenticated (presence); the function it returns
   * is called once when that socket closes, for whatever reason.
   */
  onViewerConnected?: (viewer: Viewer) => Promise<() => void> | (() => void);
  /** The bus's history: resume after a reconnect (absent: resume off, every id answered not recovered). */
  history?: EventHistory;
}

/**
 * The WebSocket transport: graphql-ws (`graphql-transport-ws`) on `ws`,
 * sharing the HTTP port and path. It vets the origin before the upgrade,
 * authenticates at `connection_init` (4403), holds one of the user's
 * connection slots (4029 beyond), closes the socket 4403 when the token
 * expires (a `refreshConnectionToken` moves that to the new token's `exp`), caps the operations running on a socket (`RATE_LIMITED`), cuts
 * off slow consumers (4413), and runs every operation through the shared
 * pipeline. Whatever goes wrong in an operation is answered with an error
 * message for that operation, never by closing the socket.
 *
 * Resume: `connectionParams.resume.lastSeen` is answered in the
 * `connection_ack` payload (./resume.ts); a recovered subscription id,
 * subscribed again, first replays what followed its offset.
 */
export function attachWebSocket(options: WebSocketOptions) {
  const {
    httpServer,
    pipeline,
    verifyToken,
    originAllowed,
    counts,
    logger,
    slots,
    slowConsumers,
    registry,
    limits,
    isShuttingDown,
    path = '/graphql',
    onViewerConnected = () => () => {},
    history,
  } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.wsMaxPayloadBytes });
  const connections = new WeakMap<WebSocket, Connection>();
  // Every socket's keep-alive, slow-consumer grace and token expiry: one timer for the instance.
  const schedule = createSchedule({
    onError: (error) => logger.error({ err: error }, 'scheduled websocket work failed'),
  });
  const maskError = createErrorMasker(logger);
  const slow = slowConsumers.forWebSockets({
    schedule,
    orgOf: (socket) => connections.get(socket)?.token.viewer.orgId,
  });
  // Once upgraded, Node no longer times out or closes the socket: a refused one is destroyed
  // once the answer is written (or a second later if the client does not take it), never left half-open.
  const refuse = (socket: Duplex, status: number, reason: string) => {
    countRefusal(counts, status);
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () =>
      socket.destroy(),
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A shared handler: a closure here would keep this scope, the upgrade request with it, for the socket's life.
    socket.on('error', destroyOnError);
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

  wss.on('connection', () => {
    counts.websockets++;
  });
  /** A socket has closed (told by the adapter, before graphql-ws ends its operations). */
  const onSocketClosed = (socket: WebSocket) => {
    counts.websockets--;
    const connection = connections.get(socket);
    if (connection) {
      connection.token.close();
      connection.releaseSlot();
      connection.disconnected();
      connection.registration.remove();
    }
  };

  const inits = createGate(limits.wsMaxConcurrentInits);
  /**
   * A socket's `connection_init`: its token, one of its user's connection
   * slots (4029 beyond), the resume answer and its presence, then
   * `connection_ack`. A socket gone while it waited for its turn costs nothing.
   */
  const accept = async (
    params: Record<string, unknown>,
    socket: WebSocket,
  ): Promise<boolean | Record<string, unknown>> => {
    if (socket.readyState !== socket.OPEN) return false;
    const token = bearerToken(params.authorization ?? params.Authorization ?? params.token);
    if (!token) return false;
    let viewer: Viewer;
    try {
      viewer = await verifyToken(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) logger.error({ err: error }, 'token verification failed');
      return false;
    }
    if (socket.readyState !== socket.OPEN) return false;
    const releaseSlot = await slots.acquire(viewer);
    if (!releaseSlot) {
      logger.info({ user: viewer.id, org: viewer.orgId }, 'websocket refused: too many connections');
      server.close(socket, CloseCode.TooManyConnections, 'Too many connections');
      return false;
    }
    // The resume answer and presence (its write and publish) are independent: one wait for both.
    const [resume, disconnected] = await Promise.all([
      answerResume(params, viewer, history, limits.maxSubscriptionsPerConnection).catch((error: unknown) => {
        // History unreachable: the socket still connects, the client is told to refetch.
        logger.warn({ err: error }, 'resume history unavailable');
        return answerResume(params, viewer, undefined, 0);
      }),
      onViewerConnected(viewer),
    ]);
    if (socket.readyState !== socket.OPEN) {
      releaseSlot();
      disconnected();
      return false;
    }
    connections.set(socket, connect(socket, viewer, releaseSlot, disconnected, resume?.points));
    return resume?.ack ?? true;
  };
  /**
   * An accepted socket's state. Its closures are made here, not in `accept`,
   * whose scope (the `connection_init` payload, its token included) they
   * would otherwise keep for the socket's life.
   */
  const connect = (
    socket: WebSocket,
    viewer: Viewer,
    releaseSlot: ReleaseSlot,
    disconnected: () => void,
    resumePoints: Map<string, Offset> | undefined,
  ): Connection => {
    const forbid = (reason: string) => closeSocket(socket, CloseCode.Forbidden, reason);
    return {
      token: createSocketToken({ viewer, verifyToken, onExpired: () => forbid('Forbidden: token expired'), schedule }),
      releaseSlot,
      disconnected,
      registration: registry.open(viewer, 'websocket', forbid),
      // Most sockets resume nothing: no (empty) Map kept for them.
      resumePoints: resumePoints?.size ? resumePoints : undefined,
    };
  };

  /** A subscription's overflow handler, kept for its life: a closure over the socket alone. */
  const cutOffOnOverflow = (socket: WebSocket) => () => slow.cutOff(socket);

  const server = serveGraphqlWs<Record<string, unknown>>(
    wss,
    {
      connectionInitWaitTimeout: limits.wsConnectionInitTimeoutMs,
      execute: (args) => (args.rootValue as Envelope).execute(args),
      subscribe: (args) => {
        const { subscribe, socket, resumeFrom } = args.rootValue as Envelope;
        // A subscription whose queue overflows cuts the socket off at once (4413).
        return withOverflowHandler(cutOffOnOverflow(socket), () => withResumePoint(resumeFrom, () => subscribe(args)));
      },
      // At most WS_MAX_CONCURRENT_INITS at once, in arrival order (./init-gate.ts).
      onConnect: ({ connectionParams, extra }) => inits.run(() => accept(connectionParams ?? {}, extra.socket)),
      onSubscribe: async (ctx, id, payload) => {
        const connection = connections.get(ctx.extra.socket);
        if (!connection) return [unauthenticated('Not authenticated')];
        // graphql-ws has registered this operation's id already.
        if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection) {
          counts.rateLimited.subscriptionsPerConnection++;
          return [
            rateLimited(
              `Too many operations on this connection: at most ${limits.maxSubscriptionsPerConnection} at once`,
            ),
          ];
        }
        try {
          // No `request`: yoga would read `request.method` (GET, the upgrade's) and refuse every mutation.
          const { schema, execute, subscribe, contextFactory, parse, validate } = pipeline.getEnveloped({
            params: payload,
            viewer: connection.token.viewer,
            operations: connection.token.signal,
            transport: 'websocket',
            refreshToken: connection.token.refresh,
          });
          const document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const { orgId } = connection.token.viewer;
          const resumeFrom = connection.resumePoints?.get(id);
          if (connection.resumePoints?.delete(id) && connection.resumePoints.size === 0) {
            connection.resumePoints = undefined;
          }
          const args: ExecutionArgs = {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: {
              execute,
              subscribe,
              socket: ctx.extra.socket,
              resumeFrom,
              // Subscriptions write shared frames straight to this socket (./fanout.ts).
              [FANOUT]: { id, raw: ctx.extra.raw, orgId: undefined },
            } satisfies Envelope,
          };
          // Deliveries are counted by organisation (the status page's own feed is not one).
          if (countsAsDelivery(rootFieldOf(args))) (args.rootValue as Envelope)[FANOUT].orgId = orgId;
          return args;
        } catch (error) {
          // An error for this operation, not a 4500 close of the whole socket.
          return [maskError(error)];
        }
      },
      onError: (ctx, _id, _payload, errors) => {
        if (errors.some((error) => error.extensions?.code === SLOW_CONSUMER_CODE)) slow.cutOff(ctx.extra.socket);
        // A stream that threw something other than a GraphQLError is masked like any unexpected error.
        return errors.map((error) => publicError(maskError(error)));
      },
      // Results of queries, mutations and subscriptions off the shared path (those write their own frames).
      onNext: (_ctx, _id, _payload, _args, result) => publicResult(result),
    },
    {
      logger,
      onSubscriptionsChanged: (delta, field, socket) => {
        countSubscription(counts, field, delta);
        connections.get(socket)?.registration.subscriptionsChanged(delta);
      },
      onRefused: (code) => countRefusal(counts, code),
      onSocketClosed,
      schedule,
      keepAliveMs: limits.wsKeepAliveMs,
      slowConsumers: slow,
    },
  );

  return {
    /**
     * Stops accepting upgrades and closes every socket with 1001; sockets
     * still open after `graceMs` are dropped. Resolves once all are closed
     * (their slots and presence given back).
     */
    async close(graceMs: number) {
      httpServer.off('upgrade', onUpgrade);
      await server.dispose(graceMs);
      schedule.close();
    },
  };
}

/** An upgrading (or upgraded) socket's `error`: drop it. */
function destroyOnError(this: Duplex) {
  this.destroy();
}

/** The pipeline's own execute and subscribe, carried to graphql-ws as the root value, with the socket. */
interface Envelope {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
  socket: WebSocket;
  /** The offset a resumed subscription replays from. */
  resumeFrom?: Offset;
  [FANOUT]: FanoutTarget;
}
