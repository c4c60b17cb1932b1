import { createClient as createSseClient } from 'graphql-sse';
import { describe, expect, it } from 'vitest';
import {
  dispose,
  errorCode,
  gql,
  health,
  ok,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  wsOperation,
  type TestServer,
} from '../support/harness.js';

const REFRESH = 'mutation ($token: String!) { refreshConnectionToken(token: $token) }';
const ME = '{ me { id orgId roles name } }';
const SESSION_EVENTS = 'subscription ($id: ID!) { sessionEvents(sessionId: $id) { __typename } }';
const CREATE_SESSION = 'mutation { createSession(name: "Phone") { id } }';
const REPORT_STATUS =
  'mutation ($id: ID!, $status: SessionStatus!) { reportSessionStatus(input: { sessionId: $id, status: $status }) { id } }';

/** Epoch seconds `seconds` from now: a token's `exp`. */
const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

/**
 * A graphql-ws client that records how its socket closed. Not lazy: a lazy client closes its
 * socket when its last operation ends, and would reconnect with its first token.
 */
function watchedClient(server: TestServer, token: string) {
  const closes: { code: number; at: number }[] = [];
  const client = wsClient(server, token, {
    lazy: false,
    // The 4403 close is what these tests wait for (see `closes`), not an error to print.
    onNonLazyError: () => {},
    on: { closed: (event) => closes.push({ code: (event as { code: number }).code, at: Date.now() }) },
  });
  return { client, closes };
}

/** A session owned by `owner`, and a way to make it emit an event (as the gateway's service would). */
async function sessionWithEvents(server: TestServer, owner: string) {
  const service = await tokenFor(user('gateway', ['service']));
  const { id } = (await ok(server, CREATE_SESSION, {}, await tokenFor(user(owner)))).createSession;
  // Alternating statuses: each report is a change, so each emits an event.
  let reports = 0;
  const emit = () => ok(server, REPORT_STATUS, { id, status: ++reports % 2 ? 'CONNECTING' : 'CONNECTED' }, service);
  return { id, emit };
}

describe('refreshConnectionToken over WebSocket', () => {
  it('keeps the socket and its subscriptions past the first token’s exp, and closes it 4403 at the new exp', async () => {
    const server = await startTestServer();
    const session = await sessionWithEvents(server, 'long-lived');
    const firstExp = inSeconds(2);
    const { client, closes } = watchedClient(server, await tokenFor(user('long-lived'), firstExp));
    const events = await subscribeWs(server, client, SESSION_EVENTS, { id: session.id });

    const newExp = inSeconds(5);
    const refreshed = await wsOperation(client, REFRESH, { token: await tokenFor(user('long-lived'), newExp) });
    expect(refreshed).toEqual({ data: { refreshConnectionToken: new Date(newExp * 1000).toISOString() } });

    // Past the first token's exp (and the 1 s the contract allows): still open, still live.
    await expect.poll(() => Date.now(), { timeout: 5000, interval: 100 }).toBeGreaterThan(firstExp * 1000 + 1500);
    expect(closes).toEqual([]);
    await session.emit();
    expect(await events.waitForEvents(1)).toEqual([{ __typename: 'SessionStatusChanged' }]);
    expect(events.isCompleted()).toBe(false);

    await expect.poll(() => closes.length, { timeout: 6000 }).toBe(1);
    expect(closes[0]!.code).toBe(4403);
    expect(closes[0]!.at).toBeGreaterThanOrEqual(newExp * 1000 - 50);
    expect(closes[0]!.at - newExp * 1000).toBeLessThan(1000);
    await expect.poll(async () => (await health(server)).body.subscriptions).toBe(0);
  });

  it('refuses another user’s or organisation’s token (FORBIDDEN) and a bad one (UNAUTHENTICATED), leaving the socket as it was', async () => {
    const server = await startTestServer({ env: { JWT_MAX_TOKEN_AGE_SECONDS: '86400' } });
    const session = await sessionWithEvents(server, 'u1');
    const firstExp = inSeconds(3);
    const { client, closes } = watchedClient(server, await tokenFor(user('u1'), firstExp));
    const events = await subscribeWs(server, client, SESSION_EVENTS, { id: session.id });

    const refusals: Record<string, [string, string]> = {
      'another user': [await tokenFor(user('u2')), 'FORBIDDEN'],
      'another organisation': [await tokenFor(user('u1', ['agent'], 'org-b')), 'FORBIDDEN'],
      garbage: ['not-a-jwt', 'UNAUTHENTICATED'],
      empty: ['', 'UNAUTHENTICATED'],
      expired: [await tokenFor(user('u1'), inSeconds(-10)), 'UNAUTHENTICATED'],
      // The connect verifier's JWT_MAX_TOKEN_AGE_SECONDS applies to a refresh too.
      'living too long': [await tokenFor(user('u1'), '2d'), 'UNAUTHENTICATED'],
    };
    for (const [name, [token, code]] of Object.entries(refusals)) {
      const result = await wsOperation(client, REFRESH, { token });
      expect(result.data ?? null, name).toBeNull();
      expect(result.errors?.[0]?.extensions?.code, name).toBe(code);
      expect(result.errors?.[0]?.message, name).not.toMatch(/at |Error:|jose/);
    }

    // Same viewer, same subscription, same expiry.
    expect((await wsOperation(client, ME)).data).toEqual({
      me: { id: 'u1', orgId: 'org-a', roles: ['AGENT'], name: 'u1' },
    });
    await session.emit();
    expect(await events.waitForEvents(1)).toEqual([{ __typename: 'SessionStatusChanged' }]);
    await expect.poll(() => closes.length, { timeout: 5000 }).toBe(1);
    expect(closes[0]!.code).toBe(4403);
    expect(closes[0]!.at - firstExp * 1000).toBeLessThan(1000);
  });

  it('runs later operations with the new token’s roles and name; a role taken away ends the subscriptions started before', async () => {
    const server = await startTestServer();
    const session = await sessionWithEvents(server, 'owner');
    const adminClaims = { sub: 'boss', org: 'org-a', roles: ['admin', 'agent'] as const, name: 'Boss' };
    const { client, closes } = watchedClient(server, await tokenFor({ ...adminClaims, roles: [...adminClaims.roles] }));
    // Someone else's session: visible to an admin only.
    const asAdmin = await subscribeWs(server, client, SESSION_EVENTS, { id: session.id });

    const renamed = await tokenFor({ ...adminClaims, roles: ['admin', 'agent'], name: 'The Boss' });
    expect(errorCode({ status: 200, ...(await wsOperation(client, REFRESH, { token: renamed })) })).toBeUndefined();
    expect((await wsOperation(client, ME)).data).toMatchObject({ me: { name: 'The Boss', roles: ['ADMIN', 'AGENT'] } });
    // Same roles: the subscription carries on.
    await session.emit();
    expect(await asAdmin.waitForEvents(1)).toHaveLength(1);

    const demoted = await tokenFor({ ...adminClaims, roles: ['agent'], name: 'Boss' });
    expect((await wsOperation(client, REFRESH, { token: demoted })).errors).toBeUndefined();
    await asAdmin.completed;
    expect((await wsOperation(client, ME)).data).toMatchObject({ me: { roles: ['AGENT'], name: 'Boss' } });
    // Started again, it runs as an agent, who may not see another user's session.
    const again = await subscribeWs(server, client, SESSION_EVENTS, { id: session.id });
    expect((await again.waitForError()) as { extensions?: { code?: string } }).toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    expect(closes).toEqual([]);
  });
});

describe('refreshConnectionToken elsewhere', () => {
  it('answers BAD_USER_INPUT over HTTP and over SSE', async () => {
    const server = await startTestServer();
    const token = await tokenFor(user('u1'));
    const http = await gql(server, REFRESH, { token: await tokenFor(user('u1')) }, { token });
    expect(http.status).toBe(200);
    expect(errorCode(http)).toBe('BAD_USER_INPUT');
    expect(http.data ?? null).toBeNull();

    const sse = createSseClient({
      url: server.graphqlUrl,
      headers: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    dispose(() => sse.dispose());
    for await (const result of sse.iterate({ query: REFRESH, variables: { token } })) {
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      break;
    }
  });
});
