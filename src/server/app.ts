import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier } from '../auth/jwt.js';
import type { Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { withOverflowHandler } from '../events/subscribe.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { createSchema } from '../schema.js';
import { startWorker, type Worker } from '../worker/worker.js';
import { readBodyWithin } from './body-limit.js';
import { createConnectionSlots } from './connection-slots.js';
import { createLiveCounts } from './metrics.js';
import { createOriginPolicy } from './origin.js';
import { attachWebSocket } from './websocket.js';
import { createPipeline, type PipelineOptions } from './yoga.js';

/** A listening server and how to stop it. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:4000`. */
  url: string;
  port: number;
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
  options: { logger?: Logger; runtime?: Runtime; graphiql?: PipelineOptions['graphiql'] } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const runtime = options.runtime ?? (await createRuntime(config, logger));
  const verifyToken = await createTokenVerifier(config.jwt);
  const counts = createLiveCounts();
  const originAllowed = createOriginPolicy(config.corsOrigins);
  const shutdown = new AbortController();
  const slots = createConnectionSlots({
    storage: runtime.storage,
    limit: config.limits.maxConnectionsPerUser,
    logger,
  });

  const pipeline = createPipeline({
    schema: createSchema(),
    services: runtime.services,
    verifyToken,
    logger,
    counts,
    shutdownSignal: shutdown.signal,
    graphiql: options.graphiql,
    security: {
      limits: config.limits,
      introspection: config.introspection,
      storage: runtime.storage,
      slots,
    },
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(json);
  };

  const health = async (res: ServerResponse) => {
    const redis = config.redisUrl ? ((await runtime.healthy()) ? 'up' : 'down') : 'embedded';
    const status = shutdown.signal.aborted ? 'shutting_down' : redis === 'down' ? 'redis_unavailable' : 'ok';
    sendJson(res, status === 'ok' ? 200 : 503, {
      status,
      redis,
      connections: { websocket: counts.websockets, sse: counts.sseStreams },
      subscriptions: counts.subscriptions,
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
    // Aborts when the client goes away: ends what its operation holds (see releaseWhenGone).
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    let run = () => void pipeline(req, res, { signal: gone.signal });
    if (req.headers.accept?.includes('text/event-stream')) {
      counts.sseStreams++;
      res.once('close', () => counts.sseStreams--);
      // A stream whose client stopped reading is dropped once its event queue overflows.
      const stream = run;
      run = () =>
        withOverflowHandler(() => {
          logger.info('event stream cut off: slow consumer');
          res.destroy();
        }, stream);
    }
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return run();
    // HTTP_MAX_BODY_BYTES: refused before it is read, or as soon as it grows past the limit.
    readBodyWithin(req, config.limits.httpMaxBodyBytes).then(
      (body) => {
        if (!body) {
          res.setHeader('connection', 'close');
          return sendJson(res, 413, {
            errors: [
              {
                message: `The request body is larger than ${config.limits.httpMaxBodyBytes} bytes`,
                extensions: { code: 'BAD_USER_INPUT' },
              },
            ],
          });
        }
        // Handed to yoga as an already-read body (whatwg-node reads `req.body` when set).
        if (body.length > 0) (req as IncomingMessage & { body?: Buffer }).body = body;
        run();
      },
      () => res.destroy(),
    );
  };

  const httpServer = createServer(handle);
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
    limits: config.limits,
    isShuttingDown: () => shutdown.signal.aborted,
    onViewerConnected: (viewer) => runtime.services.presence.connect(viewer),
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
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
  const { port } = httpServer.address() as AddressInfo;
  const displayHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${displayHost.includes(':') ? `[${displayHost}]` : displayHost}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shutdown.abort();
      logger.info('shutting down');
      const workerStopped = worker?.stop();
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await websocket.close();
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
      await stopped;
      await pipeline.dispose();
      await workerStopped;
      slots.close();
      if (!options.runtime) await runtime.close();
      logger.info('shut down');
    })());

  return { url, port, runtime, logger, close };
}
