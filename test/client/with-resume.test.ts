import { createClient, type Client, type ClientOptions, type SubscribePayload } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { withResume, type ResumeClientOptions, type UnrecoveredSubscription } from '../../src/client/index.js';
import { dispose, settle, tokenFor, user } from '../support/harness.js';
import { waitFor as waitForProbe } from '../ship/support.js';
import { startStandIn, type StandIn } from './stand-in-server.js';

/**
 * The client helper with a real graphql-ws client over real sockets, against
 * a stand-in server that speaks the contract's resume and refresh wire: what
 * the helper sends in connection_init and on the socket, and what the app's
 * subscriptions receive across drops.
 */

/** A client made as an app makes it: `createClient(withResume(options))`. Reconnects are held until `reconnect()`. */
function resumingClient(standIn: StandIn, options: Partial<ResumeClientOptions> = {}) {
  let allow!: () => void;
  let allowed = new Promise<void>((resolve) => (allow = resolve));
  const client = createClient(
    withResume({
      url: standIn.url,
      webSocketImpl: WebSocket,
      generateID: (payload: SubscribePayload) => payload.operationName ?? 'anonymous',
      retryAttempts: 10,
      retryWait: () => allowed,
      ...options,
    } as ClientOptions & ResumeClientOptions),
  );
  dispose(() => client.dispose());
  return {
    client,
    /** Lets the client's pending and later reconnects go ahead. */
    reconnect() {
      allow();
    },
    /** Holds reconnects again. */
    hold() {
      allowed = new Promise<void>((resolve) => (allow = resolve));
    },
  };
}

/** Subscribes to `ticks` under the operation name `name` (the helper's tests use it as the subscription id). */
function ticks(client: Client, name: string, take?: number) {
  const seen: string[] = [];
  let completed = false;
  const unsubscribe = client.subscribe<{ ticks: string }>(
    { operationName: name, query: `subscription ${name}($take: Int) { ticks(take: $take) }`, variables: { take } },
    {
      next: ({ data, errors }) =>
        seen.push(data ? data.ticks : `errors: ${errors!.map((e) => e.extensions?.code).join()}`),
      error: (error) => seen.push(`error: ${String(error)}`),
      complete: () => (completed = true),
    },
  );
  return { seen, unsubscribe, completed: () => completed };
}

/** Polls `probe`, failing well within the test's own timeout. */
const waitFor = (probe: () => true | undefined, what: string, timeoutMs = 10_000) =>
  waitForProbe(probe, what, timeoutMs);
const got = (list: unknown[], count: number) => () => (list.length >= count ? true : undefined);

describe('withResume (client helper)', () => {
  it("resumes each subscription from its last offset after the socket drops: the app's own connectionParams kept, every event seen once, in order", async () => {
    const standIn = await startStandIn();
    const connected: boolean[] = [];
    const messages: string[] = [];
    let opened = 0;
    const { client, reconnect, hold } = resumingClient(standIn, {
      connectionParams: async () => ({ tenant: 'blue' }),
      on: {
        opened: () => (opened += 1),
        connected: (_socket, _payload, wasRetry) => connected.push(wasRetry),
        message: (m) => messages.push(m.type),
      },
    });
    const a = ticks(client, 'A');
    const b = ticks(client, 'B');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    await settle(100);
    standIn.publish('e1');
    standIn.publish('e2');
    await waitFor(got(b.seen, 2), 'two events on B');
    await waitFor(got(a.seen, 2), 'two events on A');
    expect(standIn.inits[0]).toEqual({ tenant: 'blue' });

    hold();
    standIn.dropAll();
    await settle(200);
    standIn.publish('e3');
    standIn.publish('e4');
    reconnect();
    await waitFor(got(a.seen, 4), `A to get the missed events: ${a.seen}`);
    await waitFor(got(b.seen, 4), `B to get the missed events: ${b.seen}`);
    standIn.publish('e5');
    await waitFor(got(a.seen, 5), 'a live event on A');
    await waitFor(got(b.seen, 5), 'a live event on B');
    await settle(200);

    expect(standIn.inits[1]).toEqual({ tenant: 'blue', resume: { lastSeen: { A: '2', B: '2' } } });
    expect(a.seen).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(b.seen).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(opened).toBe(2);
    expect(connected).toEqual([false, true]);
    expect(messages.filter((type) => type === 'next')).toHaveLength(10);
    expect(standIn.connections()).toBe(2);
  });

  it('forgets a subscription the app completes and one the server completes; resumes the one still live', async () => {
    const standIn = await startStandIn();
    const { client, reconnect, hold } = resumingClient(standIn);
    const quitter = ticks(client, 'Quitter');
    const finite = ticks(client, 'Finite', 1);
    const live = ticks(client, 'Live');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    await settle(100);
    standIn.publish('e1');
    await waitFor(got(live.seen, 1), 'an event on Live');
    await waitFor(got(quitter.seen, 1), 'an event on Quitter');
    await waitFor(() => (finite.completed() ? true : undefined), 'Finite to be completed by the server');
    quitter.unsubscribe();
    await settle(100);

    hold();
    standIn.dropAll();
    await settle(200);
    standIn.publish('e2');
    reconnect();
    await waitFor(got(live.seen, 2), 'Live to get the missed event');

    expect(standIn.inits[1]).toEqual({ resume: { lastSeen: { Live: '1' } } });
    expect(quitter.seen).toEqual(['e1']);
    expect(finite.seen).toEqual(['e1']);
    expect(live.seen).toEqual(['e1', 'e2']);
  });

  it('tells onResumeFailed which subscriptions could not be recovered, with their operation, and they carry on live', async () => {
    const standIn = await startStandIn();
    const failures: UnrecoveredSubscription[][] = [];
    const { client, reconnect, hold } = resumingClient(standIn, {
      connectionParams: { authorization: 'Bearer app-token' },
      onResumeFailed: (subscriptions) => failures.push(subscriptions),
    });
    const a = ticks(client, 'A');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    await settle(100);
    standIn.publish('e1');
    await waitFor(got(a.seen, 1), 'an event on A');

    // Past the window: e2 is no longer kept when the client comes back.
    hold();
    standIn.dropAll();
    await settle(200);
    standIn.publish('e2');
    standIn.forgetUpTo(2);
    standIn.publish('e3');
    reconnect();
    await waitFor(got(failures, 1), 'onResumeFailed');
    expect(standIn.inits[1]).toEqual({ authorization: 'Bearer app-token', resume: { lastSeen: { A: '1' } } });
    expect(failures[0]).toEqual([
      {
        id: 'A',
        payload: { operationName: 'A', query: 'subscription A($take: Int) { ticks(take: $take) }', variables: {} },
      },
    ]);
    await settle(200);
    standIn.publish('e4');
    await waitFor(got(a.seen, 2), 'a live event after the failed resume');
    expect(a.seen).toEqual(['e1', 'e4']);

    // A server that does not answer `recovered` promises nothing: reported too, with the offset it last sent.
    standIn.resumeOff = true;
    hold();
    standIn.dropAll();
    await settle(200);
    reconnect();
    await waitFor(got(failures, 2), 'onResumeFailed for an ack without resume');
    expect(standIn.inits[2]).toEqual({ authorization: 'Bearer app-token', resume: { lastSeen: { A: '4' } } });
    expect(failures[1]!.map((s) => s.id)).toEqual(['A']);
  });

  it('tells onResumeFailed of a subscription the server ends with RESUME_FAILED after acking it recovered', async () => {
    const standIn = await startStandIn();
    const failures: UnrecoveredSubscription[][] = [];
    const { client, reconnect, hold } = resumingClient(standIn, {
      onResumeFailed: (subscriptions) => failures.push(subscriptions),
      // The ack said recovered; what was missed is gone before the subscription is made again.
      on: { connected: () => standIn.inits.length === 2 && standIn.forgetUpTo(2) },
    });
    const a = ticks(client, 'A');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    await settle(100);
    standIn.publish('e1');
    await waitFor(got(a.seen, 1), 'an event on A');

    hold();
    standIn.dropAll();
    await settle(200);
    standIn.publish('e2');
    reconnect();
    await waitFor(got(failures, 1), 'onResumeFailed');
    expect(standIn.inits[1]).toEqual({ resume: { lastSeen: { A: '1' } } });
    expect(failures[0]!.map((s) => s.id)).toEqual(['A']);
    await waitFor(got(a.seen, 2), 'the subscription failing');
    await waitFor(() => (a.completed() ? true : undefined), 'the subscription ending');
    expect(a.seen).toEqual(['e1', 'errors: RESUME_FAILED']);
    // It has ended: the next connection (the client is lazy: made for a new subscription) does not ask to resume it.
    ticks(client, 'B');
    await waitFor(() => (standIn.inits.length === 3 ? true : undefined), 'the third connection');
    expect(standIn.inits[2]).toEqual({});
    expect(failures).toHaveLength(1);
  });

  it('getToken: each connect sends a fresh token, and the open socket refreshes it before exp, over itself, outliving the first', async () => {
    const standIn = await startStandIn();
    const issued: string[] = [];
    const getToken = async () => {
      // Tokens live 4 s: refreshed 0.4 s before exp (a tenth of their lifetime).
      issued.push(await tokenFor(user('agent-1'), '4s'));
      return issued.at(-1)!;
    };
    const { client } = resumingClient(standIn, { getToken, connectionParams: { client: 'web' } });
    const a = ticks(client, 'A');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    expect(standIn.inits[0]).toEqual({ client: 'web', authorization: `Bearer ${issued[0]}` });

    // Two refreshes: the second is planned from the first refreshed token's exp.
    await waitFor(() => (standIn.refreshes.length >= 2 ? true : undefined), 'two refreshes', 15_000);
    standIn.publish('after two refreshes');
    await waitFor(got(a.seen, 1), 'an event on the refreshed socket');
    expect(standIn.connections()).toBe(1);
    expect(standIn.refreshes.map((r) => r.token)).toEqual(issued.slice(1, 3));
    expect(standIn.refreshes.every((r) => r.connection === 1)).toBe(true);

    // Disposed: its timers are gone, no token is asked for again.
    await client.dispose();
    const asked = issued.length;
    await settle(5000);
    expect(issued).toHaveLength(asked);
  }, 30_000);

  it('a refresh the server refuses: the socket closes at exp (4403), reconnects with a new token and resumes what it missed', async () => {
    const standIn = await startStandIn();
    standIn.refuseRefresh = true;
    const issued: string[] = [];
    const getToken = async () => {
      issued.push(await tokenFor(user('agent-1'), '3s'));
      return issued.at(-1)!;
    };
    const closes: number[] = [];
    const { client, reconnect, hold } = resumingClient(standIn, {
      getToken,
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    hold();
    const a = ticks(client, 'A');
    await waitFor(() => (standIn.inits.length === 1 ? true : undefined), 'the first connection');
    await settle(100);
    standIn.publish('e1');
    await waitFor(got(a.seen, 1), 'an event');
    await waitFor(got(closes, 1), 'the close at exp', 10_000);
    standIn.publish('e2');
    reconnect();
    await waitFor(got(a.seen, 2), 'the missed event after the reconnect');

    expect(closes).toEqual([4403]);
    expect(standIn.refreshes).toEqual([]);
    const second = standIn.inits[1]!;
    expect(second.resume).toEqual({ lastSeen: { A: '1' } });
    expect(second.authorization).toBe(`Bearer ${issued.at(-1)}`);
    expect(second.authorization).not.toBe(standIn.inits[0]!.authorization);
    expect(a.seen).toEqual(['e1', 'e2']);
  }, 20_000);
});
