import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { sleep } from './clock.js';
import { Histogram } from './histogram.js';
import type { Instance, RunContext } from './targets.js';

/** What one room size measured: `sendMessage` latency seen by the client, and the Redis commands a send cost. */
export interface SendResult {
  members: number;
  sends: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /**
   * Round trips: commands the server sent Redis per send (not those its
   * scripts ran), less the idle background (sweepers, heartbeats) over as long.
   */
  redisCommandsPerSend: number;
  /** Commands run inside the server's scripts per send (in Redis, one round trip): the member lists moved. */
  scriptCommandsPerSend: number;
}

/**
 * `sendMessage` over HTTP into rooms of each size, one send at a time on an
 * otherwise idle server (nobody subscribed): the write path's own cost.
 * Latency is timed first; then a shorter pass counts Redis commands with
 * MONITOR on a connection of our own (MONITOR slows Redis down, so never
 * while timing), the background (sweepers, heartbeats) measured idle just
 * before and deducted.
 */
export async function measureSends(
  ctx: RunContext,
  instance: Instance,
  sizes: readonly number[],
  sends: number,
): Promise<SendResult[]> {
  const key = new TextEncoder().encode(ctx.secret);
  const token = (sub: string) =>
    new SignJWT({ org: ctx.org, roles: ['agent'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime('3h')
      .sign(key);
  const graphql = async (bearer: string, query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`${instance.httpUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: Record<string, { id: string }>; errors?: unknown };
    if (!body.data) throw new Error(`${query.slice(0, 40)} failed: ${JSON.stringify(body.errors)}`);
    return body.data;
  };

  const monitor = new Redis(ctx.redisUrl);
  let commands = 0;
  let scripted = 0;
  let counting = false;
  await monitor.monitor().then((feed) =>
    feed.on('monitor', (_time: string, _args: string[], source: string) => {
      if (!counting) return;
      if (source === 'lua') scripted++;
      else commands++;
    }),
  );
  const counted = Math.max(5, Math.round(sends / 10));
  const out: SendResult[] = [];
  try {
    for (const members of sizes) {
      const sender = await token(`bench-sender-${members}`);
      const memberIds = Array.from({ length: members - 1 }, (_, i) => `bench-member-${i}`);
      const created = await graphql(sender, 'mutation ($m: [ID!]!) { createConversation(memberIds: $m) { id } }', {
        m: memberIds,
      });
      const id = created.createConversation!.id;
      const send = (body: string) =>
        graphql(sender, 'mutation ($id: ID!, $b: String!) { sendMessage(conversationId: $id, body: $b) { id } }', {
          id,
          b: body,
        });
      for (let i = 0; i < 20; i++) await send(`warm-up ${i}`);

      const latencies = new Histogram();
      for (let i = 0; i < sends; i++) {
        const t0 = performance.now();
        await send(`message ${i} to ${members}`);
        latencies.record(performance.now() - t0);
      }

      [commands, scripted, counting] = [0, 0, true];
      const idleStart = performance.now();
      await sleep(1000);
      const idleMs = performance.now() - idleStart;
      const [background, scriptedBackground] = [commands / idleMs, scripted / idleMs];
      [commands, scripted] = [0, 0];
      const started = performance.now();
      for (let i = 0; i < counted; i++) await send(`counted ${i} to ${members}`);
      const elapsed = performance.now() - started;
      await sleep(50); // MONITOR lines trail their commands slightly
      counting = false;
      const roundTrips = (commands - background * elapsed) / counted;
      const ms = (q: number) => Math.round(latencies.quantile(q) * 100) / 100;
      out.push({
        members,
        sends,
        latencyMs: { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: Math.round(latencies.max * 100) / 100 },
        redisCommandsPerSend: Math.round(roundTrips * 10) / 10,
        scriptCommandsPerSend: Math.round(((scripted - scriptedBackground * elapsed) / counted) * 10) / 10,
      });
    }
  } finally {
    monitor.disconnect();
  }
  return out;
}
