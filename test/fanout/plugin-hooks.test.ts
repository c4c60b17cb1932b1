import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import {
  ok,
  settle,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';

/**
 * Plugins that watch subscription results (envelop's `onSubscribeResult` →
 * `onNext`: metrics, tracing) see the deliveries of the shared fan-out
 * (src/server/fanout.ts `withSharedDeliveryHooks`) as they see the stock
 * path's: one call per subscriber and event, with the result that subscriber
 * receives; a `setResult` changes what that subscriber receives; `onEnd`
 * still runs when the subscription ends.
 */

const EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) { __typename ... on SessionStatusChanged { sessionId status } }
}`;
const REPORT = `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id } }`;

interface Seen {
  operationName: string | null | undefined;
  variables: unknown;
  result: ExecutionResult;
}

/** A tracing-like plugin: records every subscription result and tags those of operations named `Traced`. */
function useRecorder(seen: Seen[], ended: string[]): Plugin {
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ args }) {
          return {
            onNext({ result, setResult }) {
              seen.push({
                operationName: args.operationName,
                variables: args.variableValues,
                result: result as ExecutionResult,
              });
              if (args.operationName === 'Traced') {
                const own = result as ExecutionResult;
                setResult({ ...own, extensions: { ...own.extensions, traced: true } });
              }
            },
            onEnd: () => void ended.push(args.operationName ?? 'anonymous'),
          };
        },
      };
    },
  };
}

/** A plugin with an asynchronous `onNext`: delivery waits for it. */
function useSlowHook(calls: number[]): Plugin {
  return {
    onSubscribe: () => ({
      onSubscribeResult: () => ({
        onNext: async () => {
          await settle(5);
          calls.push(Date.now());
        },
      }),
    }),
  };
}

/** Every full `next` result a client receives on one subscription. */
function collect(
  server: TestServer,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  operationName?: string,
) {
  const results: ExecutionResult[] = [];
  const client = wsClient(server, token);
  const stop = client.subscribe(
    { query, variables, operationName },
    {
      next: (result) => void results.push(result as ExecutionResult),
      error: () => {},
      complete: () => {},
    },
  );
  return { results, stop };
}

describe('plugins on the shared fan-out path', () => {
  it('gives a plugin’s onNext every delivery, with the result each subscriber receives, and onEnd at the end', async () => {
    const seen: Seen[] = [];
    const ended: string[] = [];
    const slowCalls: number[] = [];
    const server = await startTestServer({ plugins: [useRecorder(seen, ended), useSlowHook(slowCalls)] });
    const owner = await tokenFor(user('agent-1', ['agent']));
    const service = await tokenFor(user('svc-1', ['service']));
    const { createSession } = await ok(server, 'mutation { createSession(name: "phone") { id } }', {}, owner);
    const sessionId = createSession.id as string;

    // Three subscribers of one document (one execution per event is shared), one of them named Traced.
    const traced = collect(
      server,
      owner,
      `subscription Traced${EVENTS.slice('subscription '.length)}`,
      { sessionId },
      'Traced',
    );
    const plain = [collect(server, owner, EVENTS, { sessionId }), collect(server, owner, EVENTS, { sessionId })];
    // Wait until all three are live.
    await subscribeWs(server, wsClient(server, owner), EVENTS, { sessionId });
    await settle(100);
    const before = seen.length;

    for (const status of ['CONNECTING', 'CONNECTED'] as const) {
      await ok(server, REPORT, { input: { sessionId, status } }, service);
    }
    const deadline = Date.now() + 5000;
    while ([traced, ...plain].some((s) => s.results.length < 2) && Date.now() < deadline) await settle(20);

    const expected = (status: string) => ({ sessionEvents: { __typename: 'SessionStatusChanged', sessionId, status } });
    // What a client sees, its event's offset (extensions.offset, resume) aside.
    const shown = (result: ExecutionResult) => ({ data: result.data, traced: result.extensions?.traced });
    // Clients: their events; the Traced one carries the plugin's extension, the others do not.
    for (const subscriber of plain) {
      expect(subscriber.results.map(shown)).toEqual([
        { data: expected('CONNECTING'), traced: undefined },
        { data: expected('CONNECTED'), traced: undefined },
      ]);
    }
    expect(traced.results.map(shown)).toEqual([
      { data: expected('CONNECTING'), traced: true },
      { data: expected('CONNECTED'), traced: true },
    ]);
    // The offset is still there, the same for every subscriber of an event.
    expect(traced.results[0]!.extensions?.offset).toBeTypeOf('string');
    expect(traced.results[0]!.extensions?.offset).toBe(plain[0]!.results[0]!.extensions?.offset);

    // The plugin: one call per subscriber and event (4 subscribers × 2 events), each with the result sent.
    const calls = seen.slice(before);
    expect(calls).toHaveLength(8);
    expect(calls.filter((call) => call.operationName === 'Traced')).toHaveLength(2);
    for (const call of calls) {
      expect(call.variables).toEqual({ sessionId });
      expect([expected('CONNECTING'), expected('CONNECTED')]).toContainEqual(call.result.data);
      expect(call.result.extensions?.offset).toBeTypeOf('string');
    }
    // The asynchronous hook ran for each delivery too.
    expect(slowCalls.length).toBeGreaterThanOrEqual(8);

    // onEnd: the client completes its subscription.
    traced.stop();
    const until = Date.now() + 2000;
    while (!ended.includes('Traced') && Date.now() < until) await settle(20);
    expect(ended).toContain('Traced');
  });
});
