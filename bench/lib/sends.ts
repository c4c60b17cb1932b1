import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { sleep } from './clock.js';
import { postGraphql } from './graphql-http.js';
import { Histogram } from './histogram.js';
import type { Instance, RunContext } from './targets.js';

/** What one room size measured: `sendMessage` latency seen by the client, and the Redis commands a send cost. */
export interface SendResult {
  members: number;
  sends: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Round trips: commands the server sent Redis per send that name its conversation or sender (not those its scripts ran). */
  redisCommandsPerSend: number;
  /** Commands run inside the server's scripts per send (in Redis, one round trip): the member lists moved. */
  scriptCommandsPerSend: number;
}

/**
 * `sendMessage` over HTTP into rooms of each size, one send at a time on an
 * otherwise idle server (nobody subscribed): the write path's own cost.
 * Latency is timed first; then a shorter pass counts Redis commands with
 * MONITOR on a connection of our own (MONITOR slows Redis down, so never
 * while timing): those naming the send's conversation or sender, so the
 * background (sweepers, heartbeats) is left out.
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
  const graphql = (bearer: string, query: string, variables: Record<string, unknown>) =>
    postGraphql(`${instance.httpUrl}/graphql`, bearer, query, variables);

  const counted = Math.max(5, Math.round(sends / 10));
  const out: SendResult[] = [];
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

    const { commands, scripted } = await countCommands(ctx.redisUrl, [id, `bench-sender-${members}`], async () => {
      for (let i = 0; i < counted; i++) await send(`counted ${i} to ${members}`);
    });
    const ms = (q: number) => Math.round(latencies.quantile(q) * 100) / 100;
    out.push({
      members,
      sends,
      latencyMs: { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: Math.round(latencies.max * 100) / 100 },
      redisCommandsPerSend: Math.round((commands / counted) * 10) / 10,
      scriptCommandsPerSend: Math.round((scripted / counted) * 10) / 10,
    });
  }
  return out;
}

/**
 * The commands Redis receives while `run` runs that name one of `marks`:
 * sent by clients (round trips) and run inside scripts. MONITOR is on only
 * for that long: it slows Redis down.
 */
async function countCommands(redisUrl: string, marks: string[], run: () => Promise<void>) {
  const base = new Redis(redisUrl, { lazyConnect: true });
  const monitor = await base.monitor();
  const counts = { commands: 0, scripted: 0 };
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!args.some((arg) => marks.some((mark) => arg.includes(mark)))) return;
    if (source === 'lua') counts.scripted++;
    else counts.commands++;
  });
  try {
    await run();
    await sleep(500); // MONITOR lines trail their commands
    return counts;
  } finally {
    monitor.disconnect();
    base.disconnect();
  }
}
