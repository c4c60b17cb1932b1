import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { health, ok, startTestServer, tokenFor, user, type TestServer } from '../support/harness.js';
import { rawSocket, UpgradeRefused } from './raw-ws.js';

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';

/** A POST as a browser page at `origin` would send it. */
async function post(server: TestServer, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { response, body: (await response.json()) as any };
}

async function preflight(server: TestServer, origin: string) {
  return fetch(server.graphqlUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('CORS allow-list over HTTP (CORS_ORIGINS)', () => {
  it('answers preflights and requests from a listed origin, echoing it', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: `${APP}, https://other.example.com` } });
    const token = await tokenFor(user('agent-1'));
    const allowed = await preflight(server, APP);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');

    const { response, body } = await post(
      server,
      { query: '{ me { id } }' },
      { origin: APP, authorization: `Bearer ${token}` },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(body.data.me.id).toBe('agent-1');
  });

  it('refuses a foreign origin with 403 before any GraphQL runs: no preflight, no mutation', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: APP } });
    const token = await tokenFor(user('agent-1'));
    const refused = await preflight(server, EVIL);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    for (const origin of [EVIL, 'null', 'https://app.example.com.evil.net', 'http://app.example.com', `${APP}:8443`]) {
      const { response, body } = await post(
        server,
        { query: 'mutation { createSession(name: "planted") { id } }' },
        { origin, authorization: `Bearer ${token}` },
      );
      expect(response.status, origin).toBe(403);
      expect(body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    const sessions = await ok(server, '{ sessions { name } }', {}, token);
    expect(sessions.sessions).toEqual([]);
  });

  it('always allows the server\u2019s own origin (GraphiQL), also when no list is configured', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const own = server.url.replace('localhost', '127.0.0.1');
    const page = await fetch(server.graphqlUrl, { headers: { accept: 'text/html', origin: own } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');
    const { response } = await post(
      server,
      { query: '{ me { id } }' },
      { origin: own, authorization: `Bearer ${token}` },
    );
    expect(response.status).toBe(200);
    const { response: foreign } = await post(
      server,
      { query: '{ me { id } }' },
      { origin: EVIL, authorization: `Bearer ${token}` },
    );
    expect(foreign.status).toBe(403);
  });

  it('judges a request without Origin by its token alone', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: APP } });
    const token = await tokenFor(user('agent-1'));
    expect((await post(server, { query: '{ me { id } }' }, { authorization: `Bearer ${token}` })).response.status).toBe(
      200,
    );
    const anonymous = await post(server, { query: '{ me { id } }' });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('allows any origin with *', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: '*' } });
    const token = await tokenFor(user('agent-1'));
    const { response } = await post(
      server,
      { query: '{ me { id } }' },
      { origin: EVIL, authorization: `Bearer ${token}` },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(EVIL);
    const socket = await rawSocket(server, { headers: { origin: EVIL } });
    await socket.init(token);
  });

  it('normalises configured and sent origins (case, default port) and rejects entries that are not origins', () => {
    const config = loadConfig({ CORS_ORIGINS: 'HTTPS://App.Example.com:443/, http://localhost:3000' });
    expect(config.corsOrigins).toEqual([APP, 'http://localhost:3000']);
    for (const bad of ['app.example.com', 'https://app.example.com/path', 'ftp://app.example.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
      expect(() => loadConfig({ PUBLIC_ORIGIN: bad })).toThrow(/PUBLIC_ORIGIN/);
    }
    expect(loadConfig({ PUBLIC_ORIGIN: 'HTTPS://Api.Example.com:443/' }).publicOrigin).toBe('https://api.example.com');
    expect(loadConfig({}).publicOrigin).toBeUndefined();
  });
});

describe('WebSocket upgrades (cross-site WebSocket hijacking)', () => {
  it('refuses a foreign origin with 403 before the upgrade', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: APP } });
    for (const origin of [EVIL, 'null', `${APP}.evil.net`]) {
      const refused = await rawSocket(server, { headers: { origin } }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UpgradeRefused);
      expect((refused as UpgradeRefused).status).toBe(403);
    }
    expect((await health(server)).body.connections.websocket).toBe(0);
  });

  it('upgrades a listed origin, the server\u2019s own, and one without Origin (judged by its token)', async () => {
    const server = await startTestServer({ env: { CORS_ORIGINS: APP } });
    const token = await tokenFor(user('agent-1'));
    const variants: Record<string, string>[] = [
      { origin: APP },
      { origin: server.url.replace('localhost', '127.0.0.1') },
      {},
    ];
    for (const headers of variants) {
      const socket = await rawSocket(server, { headers });
      await socket.init(token);
    }
    const anonymous = await rawSocket(server);
    anonymous.send({ type: 'connection_init', payload: {} });
    expect(await anonymous.closed).toMatchObject({ code: 4403 });
  });
});

/**
 * A request as a browser sends it, `Host` included (fetch cannot set it):
 * the page's own name in both `Host` and `Origin`.
 */
function browserRequest(server: TestServer, headers: Record<string, string>, body?: unknown) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request(
      server.graphqlUrl,
      {
        method: body === undefined ? 'GET' : 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) : text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Opens a WebSocket as a browser page at `origin` reached through `host` would, and says how the upgrade went. */
async function upgradeStatus(server: TestServer, headers: Record<string, string>): Promise<number> {
  const refused = await rawSocket(server, { headers }).catch((error: unknown) => error);
  if (refused instanceof UpgradeRefused) return refused.status;
  if (refused instanceof Error) throw refused;
  return 101;
}

describe('the server\u2019s own origin is configured, never read from Host (DNS rebinding)', () => {
  it('refuses a page whose DNS name points at the server, over HTTP and WebSocket', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    // The attacker's page at http://evil.example:PORT, its name now resolving to us: Host and Origin agree.
    const rebound = { host: `evil.example:${server.server.port}`, origin: `http://evil.example:${server.server.port}` };
    const mutation = await browserRequest(
      server,
      { ...rebound, authorization: `Bearer ${token}` },
      { query: 'mutation { createSession(name: "planted") { id } }' },
    );
    expect(mutation.status).toBe(403);
    expect(mutation.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await browserRequest(server, { ...rebound, accept: 'text/html' })).status).toBe(403);
    expect(await upgradeStatus(server, rebound)).toBe(403);
    expect((await ok(server, '{ sessions { id } }', {}, token)).sessions).toEqual([]);
  });

  it('allows PUBLIC_ORIGIN whatever Host a proxy forwards, over HTTP and WebSocket', async () => {
    const server = await startTestServer({ env: { PUBLIC_ORIGIN: 'https://api.example.com' } });
    const token = await tokenFor(user('agent-1'));
    const proxied = { host: `10.0.0.7:${server.server.port}`, origin: 'https://api.example.com' };
    const query = await browserRequest(
      server,
      { ...proxied, authorization: `Bearer ${token}` },
      { query: '{ me { id } }' },
    );
    expect(query.status).toBe(200);
    expect(query.body.data.me.id).toBe('agent-1');
    expect(await upgradeStatus(server, proxied)).toBe(101);
    expect(await upgradeStatus(server, { ...proxied, origin: 'https://evil.example' })).toBe(403);
  });

  it('allows the address it listens on: loopback names with its port, and its interfaces when bound to all', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('agent-1'));
    const port = server.server.port;
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]) {
      const host = new URL(origin).host;
      const query = await browserRequest(
        server,
        { host, origin, authorization: `Bearer ${token}` },
        { query: '{ me { id } }' },
      );
      expect(query.status, origin).toBe(200);
      expect(await upgradeStatus(server, { host, origin }), origin).toBe(101);
    }
    // Another port on the same machine is another origin.
    const otherPort = { host: `localhost:${port + 1}`, origin: `http://localhost:${port + 1}` };
    expect((await browserRequest(server, otherPort, { query: '{ me { id } }' })).status).toBe(403);

    const everywhere = await startTestServer({ env: { HOST: '0.0.0.0' } });
    const address = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
    for (const name of [address, 'localhost'].filter(Boolean)) {
      const origin = `http://${name}:${everywhere.server.port}`;
      const headers = { host: new URL(origin).host, origin, authorization: `Bearer ${token}` };
      expect((await browserRequest(everywhere, headers, { query: '{ me { id } }' })).status, origin).toBe(200);
    }
    const rebound = {
      host: `evil.example:${everywhere.server.port}`,
      origin: `http://evil.example:${everywhere.server.port}`,
    };
    expect(await upgradeStatus(everywhere, rebound)).toBe(403);
  });
});
