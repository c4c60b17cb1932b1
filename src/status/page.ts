import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The page's own files, beside `src/` and `dist/` alike (the container copies `public/`). */
const PAGE_DIR = fileURLToPath(new URL('../../public/status/', import.meta.url));

/** graphql-ws's browser build (global `graphqlWs`), from this server's own dependency: no CDN. */
function graphqlWsBrowserBuild(): string {
  const main = createRequire(import.meta.url).resolve('graphql-ws');
  return join(dirname(main), '..', 'umd', 'graphql-ws.min.js');
}

/**
 * Only this server's own scripts, styles and WebSocket: nothing inline, no
 * other origin, no framing, no forms posting elsewhere.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * The operators' status page at `/status`: plain HTML, CSS and JavaScript
 * served as they are (no build step), with graphql-ws's browser build at
 * `/status/graphql-ws.js`. The page holds no data: it connects to
 * `/graphql` over WebSocket with the admin token pasted into it and runs
 * `deploymentStatus`, `disconnectUser` like any client. Files are read once.
 */
export function createStatusPage() {
  const file = (name: string, type: string): Asset => ({ type, body: readFileSync(join(PAGE_DIR, name)) });
  const assets = new Map<string, Asset>([
    ['/status', file('index.html', 'text/html; charset=utf-8')],
    ['/status/status.js', file('status.js', 'text/javascript; charset=utf-8')],
    ['/status/status.css', file('status.css', 'text/css; charset=utf-8')],
    ['/status/graphql-ws.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(graphqlWsBrowserBuild()) }],
  ]);

  return {
    /** True for the page's paths. */
    serves(pathname: string): boolean {
      return pathname === '/status' || pathname === '/status/' || assets.has(pathname);
    },
    /** Answers a GET or HEAD of one of them. */
    serve(req: IncomingMessage, res: ServerResponse, pathname: string): void {
      const asset = assets.get(pathname === '/status/' ? '/status' : pathname)!;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' });
        return void res.end();
      }
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': String(asset.body.length),
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    },
  };
}
