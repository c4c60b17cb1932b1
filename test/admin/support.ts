import type { Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import { subscribeSse } from '../conversations/support.js';
import {
  dispose,
  subscribeWs,
  TEST_JWT_SECRET,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';

/** A subscription any user may open on themselves: nothing to set up first. */
export const OWN_EVENTS = 'subscription { notificationEvents { __typename } }';

export const CONNECTIONS = `query ($userId: ID, $limit: Int) {
  connections(userId: $userId, limit: $limit) { id userId transport instance openedAt subscriptions }
}`;
export const DISCONNECT =
  'mutation ($userId: ID!, $reason: String) { disconnectUser(userId: $userId, reason: $reason) }';
export const REVOKE = 'mutation ($userId: ID!) { revokeTokens(userId: $userId) }';

/** An admin of `org`. */
export const adminToken = (org = 'org-a') => tokenFor(user(`admin-of-${org}`, ['admin'], org));

/** A WebSocket holding one live subscription, and the close code the client saw (once closed). */
export interface OpenSocket {
  client: Client;
  closed: Promise<number>;
  closedCode(): number | undefined;
}

/** Opens a graphql-ws client with `token` and one live subscription on it. */
export async function openSocket(server: TestServer, token: string): Promise<OpenSocket> {
  const client = wsClient(server, token);
  let code: number | undefined;
  const closed = new Promise<number>((resolve) =>
    client.on('closed', (event) => resolve((code = (event as { code: number }).code))),
  );
  await subscribeWs(server, client, OWN_EVENTS);
  return { client, closed, closedCode: () => code };
}

/** Opens an SSE subscription stream with `token` (graphql-sse, distinct connections). */
export const openStream = (server: TestServer, token: string) => subscribeSse(server, token, OWN_EVENTS);

/** Resolves with how long `promise` took, or rejects after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  dispose(() => clearTimeout(timer));
  const value = await Promise.race([promise, late]);
  clearTimeout(timer);
  return { value, ms: Date.now() - started };
}

/** Waits until the wall clock enters the next whole second: a token minted then has a later `iat` than now. */
export async function nextSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
}

/** An SSE request's HTTP status with `token`, as a browser's EventSource-like client would see it. */
export async function streamStatus(server: TestServer, token: string): Promise<number> {
  const controller = new AbortController();
  const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent(OWN_EVENTS)}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  controller.abort();
  await response.body?.cancel().catch(() => undefined);
  return response.status;
}

/** A token of `sub` (org-a, agent) without `iat`, valid for an hour: it cannot tell when it was issued. */
export function tokenWithoutIat(sub: string): Promise<string> {
  return new SignJWT({ org: 'org-a', roles: ['agent'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}
