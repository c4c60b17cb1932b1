import { createClient } from 'graphql-ws';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withResume } from '../../src/client/index.js';
import { dispose, health, ok, startTestServer, subscribeWs, tokenFor, user } from '../support/harness.js';

/**
 * `withResume`'s `getToken` on our server: the socket takes each fresh
 * token with `refreshConnectionToken` before the current one's `exp`, so it
 * is never closed 4403 and its subscription stays live past the first
 * token's expiry.
 */
describe('withResume getToken on the server', () => {
  it('keeps the socket and its subscription past the first token’s exp with no reconnect', async () => {
    const server = await startTestServer();
    const service = await tokenFor(user('gateway', ['service']));
    const owner = await tokenFor(user('long-lived'));
    const { id } = (await ok(server, 'mutation { createSession(name: "Phone") { id } }', {}, owner)).createSession;
    const report = (status: string) =>
      ok(
        server,
        'mutation ($id: ID!, $s: SessionStatus!) { reportSessionStatus(input: { sessionId: $id, status: $s }) { id } }',
        { id, s: status },
        service,
      );

    // Tokens live 6 s: each is refreshed 0.6 s before its exp (a tenth of its lifetime).
    const issued: { exp: number }[] = [];
    const getToken = async () => {
      const token = await tokenFor(user('long-lived'), '6s');
      issued.push({ exp: decodeJwt(token).exp! });
      return token;
    };
    const closes: number[] = [];
    const client = createClient(
      withResume({
        url: server.wsUrl,
        webSocketImpl: WebSocket,
        getToken,
        retryAttempts: 0,
        on: { closed: (event) => closes.push((event as { code: number }).code) },
      }),
    );
    dispose(() => client.dispose());
    const events = await subscribeWs(
      server,
      client,
      'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename ... on SessionStatusChanged { status } } }',
      { id },
    );
    await report('CONNECTING');
    await events.waitForEvents(1);

    // Past the first token's exp and the second accepted one's, with the second second the contract allows.
    const firstExp = issued[0]!.exp * 1000;
    await expect.poll(() => issued.length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(3);
    await expect
      .poll(() => Date.now(), { timeout: 15_000, interval: 100 })
      .toBeGreaterThan(issued[1]!.exp * 1000 + 1500);
    expect(Date.now()).toBeGreaterThan(firstExp + 1500);
    expect(closes).toEqual([]);
    await report('CONNECTED');
    expect(await events.waitForEvents(2)).toEqual([
      { __typename: 'SessionStatusChanged', status: 'CONNECTING' },
      { __typename: 'SessionStatusChanged', status: 'CONNECTED' },
    ]);
    expect(events.isCompleted()).toBe(false);
    expect((await health(server)).body.connections.websocket).toBe(1);
  }, 40_000);
});
