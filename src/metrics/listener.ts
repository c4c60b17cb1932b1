import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { MetricsConfig } from '../config.js';
import type { Logger } from '../logger.js';

/** A metrics listener, or none when metrics are off or its port could not be had. */
export interface MetricsListener {
  /** `http://host:port/metrics`, when listening. */
  url: string | undefined;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format: `registries` one after
 * the other) on a listener of its own, never the public port. A port
 * already in use (another instance on the host) or any other listen
 * failure is logged and leaves metrics off: it never stops the server.
 */
export async function startMetricsListener(options: {
  config: MetricsConfig;
  registries: readonly Registry[];
  logger: Logger;
}): Promise<MetricsListener> {
  const { config, registries, logger } = options;

  const scrape = async (req: IncomingMessage, res: ServerResponse) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    try {
      const text = (await Promise.all(registries.map((registry) => registry.metrics()))).join('');
      res.writeHead(200, { 'content-type': registries[0]!.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (error) {
      logger.error({ err: error }, 'collecting metrics failed');
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Collecting metrics failed\n');
    }
  };
  const server = createServer((req, res) => void scrape(req, res));
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      logger.warn(
        { port: config.port, host: config.host, err: error.code ?? error.message },
        error.code === 'EADDRINUSE'
          ? 'metrics port already in use: this process serves no metrics (set METRICS_PORT per instance)'
          : 'metrics listener could not start: this process serves no metrics',
      );
      resolve(false);
    });
    server.listen(config.port, config.host, () => resolve(true));
  });
  if (!listening) return { url: undefined, close: async () => {} };

  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}/metrics`;
  logger.info({ url }, 'metrics listening');
  let closed: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
