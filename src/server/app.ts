import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createConnectionRegistry } from '../admin/registry.js';
import { createRevocations, refusingRevoked } from '../admin/revocations.js';
import { createAdminService } from '../admin/service.js';
import type { Viewer } from '../auth/viewer.js';
import { createTokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';
import { settlesWithin } from '../lib/deadline.js';
import { createLogger, type Logger } from '../logger.js';
import { withOverflowHandler } from '../events/subscribe.js';
import { startMetrics } from '../metrics/index.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { createSchema } from '../schema.js';
import { createStatusPage } from '../status/page.js';
import { createStatusService } from '../status/service.js';
import { startWorker, type Worker } from '../worker/worker.js';
import { readBodyWithin } from './body-limit.js';
import { createConnectionSlots } from './connection-slots.js';
import { createHttpAuthenticator, isOpenToAnyone } from './http-auth.js';
import { createLiveCounts } from './metrics.js';
import { createOriginPolicy, ownOrigins } from './origin.js';
import { createSlowConsumerPolicy } from './slow-consumers.js';
import { attachWebSocket } from './websocket.js';
import { createErrorMasker, createPipeline, type PipelineOptions } from './yoga.js';

const GRAPHQL_PATH = '/graphql';

/** An error as the transport answers it: the contract's code and a message. */
interface GraphQLErrorLike {
  message: string;
  extensions: { code?: unknown };
}

/** A listening server and how to stop it. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  url: string;
  port: number;
  /** Where Prometheus scrapes this server (its own listener), unless metrics are off or their port was taken. */
  metricsUrl: string | undefined;
  runtime: Runtime;
  logger: Logger;
  /**
   * Graceful shutdown: stop accepting, close WebSockets with 1001, end SSE
   * streams, dispose subscriptions and Redis clients. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts the whole server on one port and one path: HTTP and SSE through
 * graphql-yoga, WebSocket through graphql-ws, both on one pipeline.
 */
export async function startServer(
  config: Config,
  options: {
    logger?: Logger;
    runtime?: Runtime;
    graphiql?: PipelineOptions['graphiql'];
    /** Extra envelop plugins (metrics, tracing), on every transport. */
    plugins?: PipelineOptions['plugins'];
  } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const runtime = options.runtime ?? (await createRuntime(config, logger));
  // The admin API (src/admin): this instance's connections, and the revoked tokens authentication refuses.
  const revocations = createRevocations({ storage: runtime.storage, ttlSeconds: config.jwt.maxTokenAgeSeconds });
  const registry = createConnectionRegistry(runtime.services.presence.instanceId, { refuses: revocations.refuses });
  const admin = createAdminService({
    storage: runtime.storage,
    bus: runtime.bus,
    logger,
    registry,
    revocations,
    presence: config.presence,
  });
  // What the transports and the pipeline count: /health, /metrics, and the status page's per-organisation tallies.
  const counts = createLiveCounts();
  // The status page (src/status): its feed.
  const status = createStatusService({
    bus: runtime.bus,
    logger,
    registry,
    counters: counts.tallies,
    intervalMs: config.statusIntervalMs,
  });
  const statusPage = createStatusPage();
  await Promise.all([admin.start(), status.start()]).catch(async (error: unknown) => {
    status.close();
    await admin.close().catch(() => undefined);
    if (!options.runtime) await runtime.close();
    throw error;
  });
  const verifyToken = refusingRevoked(await createTokenVerifier(config.jwt), revocations);
  const slowConsumers = createSlowConsumerPolicy({ limits: config.limits, counters: counts.tallies, logger });
  // The server's own origins, known once it listens: never taken from a request's Host.
  let own: ReadonlySet<string> = new Set();
  const originAllowed = createOriginPolicy(config.corsOrigins, () => own);
  const authenticate = createHttpAuthenticator(verifyToken, createErrorMasker(logger));
  const shutdown = new AbortController();
  const slots = createConnectionSlots({
    storage: runtime.storage,
    limit: config.limits.maxConnectionsPerUser,
    logger,
  });

  const pipeline = createPipeline({
    schema: createSchema(),
    services: { ...runtime.services, admin, status },
    logger,
    counts,
    slowConsumers,
    shutdownSignal: shutdown.signal,
    graphiql: options.graphiql,
    plugins: options.plugins,
    security: {
      limits: config.limits,
      introspection: config.introspection,
      storage: runtime.storage,
      slots,
    },
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(json);
  };
  // An error answered by the transport itself, before the body is read: the
  // connection is closed rather than spent reading an unread body. Readable
  // by an allowed origin (its page learns its token has expired).
  const sendError = (req: IncomingMessage, res: ServerResponse, status: number, error: GraphQLErrorLike) => {
    const headers: Record<string, string> = {};
    if (req.headers['content-length'] || req.headers['transfer-encoding']) headers.connection = 'close';
    if (req.headers.origin) {
      headers['access-control-allow-origin'] = req.headers.origin;
      headers['access-control-allow-credentials'] = 'true';
      headers.vary = 'Origin';
    }
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    sendJson(
      res,
      status,
      { errors: [{ message: error.message, extensions: { code: error.extensions.code } }] },
      headers,
    );
  };

  const health = async (res: ServerResponse) => {
    const redis =
      config.redisUrl || config.redisClusterNodes ? ((await runtime.healthy()) ? 'up' : 'down') : 'embedded';
    const status = shutdown.signal.aborted ? 'shutting_down' : redis === 'down' ? 'redis_unavailable' : 'ok';
    sendJson(res, status === 'ok' ? 200 : 503, {
      status,
      redis,
      connections: { websocket: counts.websockets, sse: counts.sseStreams },
      subscriptions: counts.subscriptions,
      events: {
        malformedDropped: runtime.bus.stats.malformedDropped,
        listenerErrors: runtime.bus.stats.listenerErrors,
      },
      uptimeSeconds: Math.round(process.uptime()),
    });
  };

  // Requests being answered; shutdown waits for them, then drops idle keep-alive sockets.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => {
      if (--inFlight === 0) drained?.();
    });
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/health') return void health(res);
    if (!originAllowed(req)) {
      logger.info({ origin: req.headers.origin }, 'request refused: origin not allowed');
      return sendJson(res, 403, { errors: [{ message: 'Origin not allowed', extensions: { code: 'FORBIDDEN' } }] });
    }
    if (shutdown.signal.aborted) {
      res.setHeader('connection', 'close');
      return sendJson(res, 503, {
        errors: [{ message: 'The server is shutting down', extensions: { code: 'SERVICE_UNAVAILABLE' } }],
      });
    }
    // The operators' status page: static files; its data comes over the WebSocket like any client's.
    if (statusPage.serves(pathname)) return statusPage.serve(req, res, pathname);
    if (pathname !== GRAPHQL_PATH && pathname !== `${GRAPHQL_PATH}/`) {
      return sendError(req, res, 404, { message: 'Not found', extensions: { code: 'NOT_FOUND' } });
    }
    // Aborts when the client goes away: ends what its operation holds (see releaseWhenGone).
    const gone = new AbortController();
    res.once('close', () => gone.abort(RESPONSE_CLOSED));
    // GraphiQL's page and CORS preflights: nothing is parsed or run.
    if (isOpenToAnyone(req)) return void pipeline(req, res, { signal: gone.signal });
    // The token is checked before the body is read or any document parsed (see ./http-auth.ts).
    authenticate(req).then(
      (outcome) => {
        if ('error' in outcome) {
          const status = (outcome.error.extensions.http as { status?: number } | undefined)?.status ?? 500;
          return sendError(req, res, status, outcome.error as GraphQLErrorLike);
        }
        // The client may have gone while its token was checked: its close has been and gone.
        if (!gone.signal.aborted) serve(req, res, outcome.viewer, gone.signal);
      },
      () => res.destroy(),
    );
  };

  // An authenticated request: its body is read (within HTTP_MAX_BODY_BYTES) and it runs.
  const serve = (req: IncomingMessage, res: ServerResponse, viewer: Viewer, signal: AbortSignal) => {
    let run = () => void pipeline(req, res, { signal, viewer });
    if (req.headers.accept?.includes('text/event-stream')) {
      counts.sseStreams++;
      res.once('close', () => counts.sseStreams--);
      // Listed for the admin API, which ends the stream (its subscription completes; the connection drops a second later at most).
      const ended = new AbortController();
      const connection = registry.open(viewer, 'sse', () => {
        ended.abort();
        setTimeout(() => res.destroy(), SSE_END_GRACE_MS).unref();
      });
      res.once('close', () => connection.remove());
      const streamSignal = AbortSignal.any([signal, ended.signal]);
      run = () => void pipeline(req, res, { signal: streamSignal, viewer, connection });
      // A stream whose client stopped reading is dropped once its event queue overflows.
      const stream = run;
      run = () => withOverflowHandler(() => slowConsumers.cutOffStream(res, viewer.orgId), stream);
    }
    if (req.method === 'GET' || req.method === 'HEAD') return run();
    // HTTP_MAX_BODY_BYTES: refused before it is read, or as soon as it grows past the limit.
    const declared = Number(req.headers['content-length']);
    if (req.headers.expect?.toLowerCase() === '100-continue' && !(declared > config.limits.httpMaxBodyBytes)) {
      res.writeContinue();
    }
    readBodyWithin(req, config.limits.httpMaxBodyBytes).then(
      (body) => {
        if (!body) {
          return sendError(req, res, 413, {
            message: `The request body is larger than ${config.limits.httpMaxBodyBytes} bytes`,
            extensions: { code: 'BAD_USER_INPUT' },
          });
        }
        // Handed to yoga as an already-read body, in a form whatwg-node takes as
        // it is: a Buffer there is first walked key by key (`Object.keys`), one
        // string per byte, which blocked the event loop a second per 4 MB.
        if (body.length > 0) (req as IncomingMessage & { body?: Readable }).body = Readable.from([body]);
        run();
      },
      () => res.destroy(),
    );
  };

  const httpServer = createServer(handle);
  // `Expect: 100-continue`: the client is told to send its body only once its token is accepted (see `serve`).
  httpServer.on('checkContinue', handle);
  httpServer.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy(error);
  });
  const websocket = attachWebSocket({
    httpServer,
    pipeline,
    verifyToken,
    originAllowed,
    counts,
    logger,
    slots,
    slowConsumers,
    registry,
    limits: config.limits,
    isShuttingDown: () => shutdown.signal.aborted,
    onViewerConnected: (viewer) => runtime.services.presence.connect(viewer),
    history: runtime.bus.history,
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  // The embedded campaign worker (and simulated gateway), so `npm start` alone runs campaigns.
  let worker: Worker | undefined;
  if (config.embeddedWorker) {
    worker = await startWorker({ config, ...runtime, logger }).catch(async (error: unknown) => {
      await new Promise((resolve) => httpServer.close(resolve));
      if (!options.runtime) await runtime.close();
      throw error;
    });
  }
  // METRICS_HOST:METRICS_PORT, never this port; a port in use is logged and metrics stay off.
  const metrics = await startMetrics({
    config: config.metrics,
    sources: {
      counts,
      bus: runtime.bus.stats,
      campaigns: worker?.counts,
      redisPing: runtime.redisPing,
    },
    logger,
  });
  const { port } = httpServer.address() as AddressInfo;
  own = ownOrigins({ host: config.host, port, publicOrigin: config.publicOrigin });
  const displayHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shutdown.abort();
      logger.info('shutting down');
      const workerStopped = worker?.stop();
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // One SHUTDOWN_TIMEOUT_MS for every client, whatever it does: sockets still open then
      // are dropped, requests still running (a stalled SSE reader, a slow body) are cut.
      const sockets = websocket.close(config.shutdownTimeoutMs);
      // SSE streams end through the shutdown signal; other requests get to finish.
      await new Promise<void>((resolve) => {
        const forced = setTimeout(resolve, config.shutdownTimeoutMs);
        forced.unref();
        drained = () => {
          clearTimeout(forced);
          resolve();
        };
        if (inFlight === 0) drained();
      });
      httpServer.closeAllConnections();
      await sockets;
      await stopped;
      await metrics.close();
      // Then what this instance holds in Redis (presence, connection slots, leases) is given
      // back, within a second: a Redis that does not answer cannot hold the process past it.
      const released = (async () => {
        status.close();
        // Alongside the rest: leaving the admin API's live instances is one Redis write.
        const adminClosed = admin.close();
        await pipeline.dispose();
        await workerStopped;
        await slots.close();
        await adminClosed;
        if (!options.runtime) await runtime.close();
      })().catch((error: unknown) => logger.error({ err: error }, 'releasing at shutdown failed'));
      if (!(await settlesWithin(released, RELEASE_GRACE_MS))) {
        logger.warn('Redis did not answer in time: presence and connection slots will lapse by themselves');
        // Also a runtime this server was given: its owner is shutting down with it, and its
        // close() then settles at once instead of waiting on the same unresponsive Redis.
        runtime.disconnect();
        await settlesWithin(released, AFTER_DISCONNECT_MS);
      }
      logger.info('shut down');
    })());

  return { url, port, metricsUrl: metrics.url, runtime, logger, close };
}

/**
 * The reason every request's `gone` signal aborts with, once its response is closed (finished or
 * dropped): without one, each request would build a `DOMException` with a stack. Nothing reads it.
 */
const RESPONSE_CLOSED = Object.freeze(new Error('the response is closed'));
/** How long an SSE stream ended by the admin API has to finish before its connection is dropped. */
const SSE_END_GRACE_MS = 1000;
/** How long shutdown gives this instance to release what it holds in Redis, once clients are gone. */
const RELEASE_GRACE_MS = 700;
/** Then, with Redis dropped, for its commands to fail and the rest to close. */
const AFTER_DISCONNECT_MS = 250;
