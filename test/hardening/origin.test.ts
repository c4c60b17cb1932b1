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
    }
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
