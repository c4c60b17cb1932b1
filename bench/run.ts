/**
 * `npm run bench [-- --quick] [--targets=ours,ours-resume-off,socketio,graphql,ws] [--phases=1,2,3,4,5,6,7] [--tsx] [--profile] [--prof-ours] [--ours-node-args='--max-semi-space-size=64 …']`
 *
 * Runs the fan-out scenarios of issue 6 against our server and three peers
 * it starts itself (Socket.IO 4 + redis-adapter, a plain graphql-ws +
 * graphql-redis-subscriptions stack, and plain ws as the floor), all on one
 * private Redis, publishing through Redis as a backend worker would (ours
 * through its event-recording script, so events carry offsets and history).
 * `ours-resume-off` is our server with RESUME_WINDOW_SECONDS=0: resume's
 * cost on the live path, side by side in the same run. `ours-cluster` is
 * our server on a private three-shard Redis Cluster (REDIS_CLUSTER_NODES,
 * sharded pub/sub), with how each phase's scripts, SPUBLISHes and keys
 * spread over the shards (`--targets=ours,ours-cluster --phases=3` puts two
 * instances on one Redis and on the cluster side by side).
 * Subscribers live in separate client worker processes. Prints a table of
 * figures and ratios and writes bench/results/<timestamp>.json.
 *
 * Phases (each on fresh server instances, one target at a time):
 *   1. memory per idle subscribed connection (c), then fan-out to the big N (a);
 *   2. fan-out to the small N (a) and latency at a fixed delivery rate (b);
 *   3. two instances on one Redis (e), subscribers spread over a topic in
 *      each of `twoOrgs` organisations (a slot each on a cluster);
 *   4. scale (d): connections spread over conversations of ~50 members,
 *      stepped up to the fd cap, p99 at a light delivery rate at each step;
 *   5. reconnect storm (f): `stormN` clients (tokens signed beforehand) open
 *      their connections all at once; connects refused or reset, and the
 *      time until every one is subscribed and has received an event.
 *   6. the write path (g): `sendMessage` latency and Redis commands per send
 *      in rooms of 10, 100, 1,000 and 10,000 members (ours: the peers have
 *      no room sizes of their own here);
 *   7. end-to-end chat (h): `chatN` subscribers of a `chatMembers`-member
 *      room (each member with several connections), `chatMessages`
 *      messages sent through each system's own API by one member
 *      (`SEND_CONCURRENCY` in flight), each system storing its message in
 *      Redis before broadcasting it (bench/lib/chat.ts): deliveries/s and
 *      send latency side by side.
 * `--profile` instead runs only our server under fan-out with --cpu-prof.
 * `--ours-node-args` passes Node options (space-separated) to every instance
 * of our server: V8 tuning, measured side by side with the peers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildAll, orphanGuard, ROOT } from './lib/build.js';
import { installCleanup, killAll } from './lib/children.js';
import { clock, sleep } from './lib/clock.js';
import { Fleet } from './lib/fleet.js';
import { rssOf } from './lib/proc.js';
import { startRedis } from './lib/redis-server.js';
import { shardFigures, spreadBetween } from './lib/cluster-spread.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { burst, type DeliveryResult, type Rig, steady, waitLive } from './lib/scenarios.js';
import { printReport } from './lib/report.js';
import { measureSends } from './lib/sends.js';
import { SEND_CONCURRENCY, setUpChat, type Chat } from './lib/chat.js';
import { type Instance, type RunContext, type Target, type TargetName, TARGETS } from './lib/targets.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

const quick = flag('quick');
const P = quick
  ? {
      memBase: 200,
      bigN: 1_000,
      bigEvents: 20,
      smallN: 500,
      smallEvents: 40,
      latencyRate: 5_000,
      latencySeconds: 2,
      scaleSteps: [1_000, 2_000],
      scaleGroupSize: 50,
      lightDeliveriesPerSec: 1_000,
      lightSeconds: 2,
      twoN: 400,
      twoEvents: 20,
      twoOrgs: 8,
      stormN: 2_000,
      sendSizes: [10, 100, 1_000],
      sends: 50,
      chatN: 500,
      chatMembers: 90,
      chatMessages: 50,
      timeoutMs: 30_000,
    }
  : {
      memBase: 1_000,
      bigN: 10_000,
      bigEvents: 30,
      smallN: 1_000,
      smallEvents: 200,
      latencyRate: 20_000,
      latencySeconds: 10,
      scaleSteps: [5_000, 10_000, 15_000, 19_500],
      scaleGroupSize: 50,
      lightDeliveriesPerSec: 4_000,
      lightSeconds: 5,
      twoN: 2_000,
      twoEvents: 100,
      twoOrgs: 8,
      stormN: 10_000,
      sendSizes: [10, 100, 1_000, 10_000],
      sends: 200,
      chatN: 2_000,
      chatMembers: 90,
      chatMessages: 200,
      timeoutMs: 90_000,
    };
const WORKERS = 2;
const SERVER_FD_CAP = 20_000;

const targetNames = (option('targets') ?? 'ours,ours-resume-off,socketio,graphql,ws').split(',') as TargetName[];
const phases = new Set((option('phases') ?? '1,2,3,4,5,6,7').split(',').map(Number));
/** Node options for our server's processes (`--ours-node-args='…'`, split on spaces; values may hold `=`). */
const oursNodeArgs = (argv.find((a) => a.startsWith('--ours-node-args='))?.slice('--ours-node-args='.length) ?? '')
  .split(' ')
  .filter(Boolean);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(ROOT, 'bench/results');

installCleanup();

async function withRig<T>(
  target: Target,
  ctx: RunContext,
  instanceCount: number,
  topicCount: number,
  fn: (
    rig: Rig,
    instances: Instance[],
    connect: (count: number) => Promise<void>,
    storm: (count: number) => ReturnType<Fleet['storm']>,
  ) => Promise<T>,
): Promise<T> {
  const instances: Instance[] = [];
  let fleet: Fleet | undefined;
  let rig: Rig | undefined;
  try {
    for (let i = 0; i < instanceCount; i++) instances.push(await target.start(ctx));
    const topics = await target.prepare(ctx, instances[0]!, topicCount);
    fleet = Fleet.spawn(files.worker, WORKERS);
    rig = { fleet, publisher: target.publisher(ctx), topics, serverPids: instances.map((i) => i.pid) };
    const client = target.client(ctx, instances, topics);
    let users = 0;
    const connect = async (count: number) => {
      const stats = await fleet!.connect(client, count, users);
      users += count;
      if (stats.failed > 0) throw new Error(`${stats.failed} of ${users} connections failed`);
      await waitLive(rig!);
    };
    const storm = async (count: number) => {
      const outcome = await fleet!.storm(client, count, users);
      users += count;
      return outcome;
    };
    return await fn(rig, instances, connect, storm);
  } finally {
    await rig?.publisher.close();
    await fleet?.close();
    await Promise.all(instances.map((i) => i.stop()));
  }
}

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`  ${what} failed: ${message}\n`);
    return { error: message };
  }
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const brief = (r: DeliveryResult) =>
  `${r.deliveriesPerSec.toLocaleString()} deliveries/s, last subscriber ${r.lastSubscriberMs} ms, ` +
  `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms, ${r.serverCpuUsPerDelivery} µs CPU/delivery` +
  (r.complete ? '' : ` INCOMPLETE ${r.delivered}/${r.expected}`);

/** Runs one phase against one target; phases run target after target, so peers see the same machine load. */
async function benchPhase(phase: number, target: Target, ctx: RunContext, result: Record<string, unknown>) {
  log(`  ${target.label}`);
  if (phase === 1) {
    result.phase1 = await attempt('phase 1', () =>
      withRig(target, ctx, 1, 1, async (rig, [instance], connect) => {
        const out: Record<string, unknown> = {};
        await connect(P.memBase);
        await sleep(2000);
        const rssBase = rssOf(instance!.pid);
        await connect(P.bigN - P.memBase);
        await sleep(2000);
        const rssFull = rssOf(instance!.pid);
        out.memory = {
          connections: P.bigN,
          measuredBetween: [P.memBase, P.bigN],
          rssBytesAtBase: rssBase,
          rssBytes: rssFull,
          bytesPerConnection: Math.round((rssFull - rssBase) / (P.bigN - P.memBase)),
        };
        log(`  (c) memory: ${Math.round((rssFull - rssBase) / (P.bigN - P.memBase) / 102.4) / 10} KiB/conn`);
        const fanout = await burst(rig, P.bigEvents, P.timeoutMs);
        out.fanoutBig = fanout;
        log(`  (a) fan-out N=${fanout.subscribers} E=${P.bigEvents}: ${brief(fanout)}`);
        return out;
      }),
    );
  }

  if (phase === 2) {
    result.phase2 = await attempt('phase 2', () =>
      withRig(target, ctx, 1, 1, async (rig, _instances, connect) => {
        await connect(P.smallN);
        const fanoutSmall = await burst(rig, P.smallEvents, P.timeoutMs);
        log(`  (a) fan-out N=${fanoutSmall.subscribers} E=${P.smallEvents}: ${brief(fanoutSmall)}`);
        await sleep(1000);
        const latency = await steady(rig, P.latencyRate, P.latencySeconds);
        log(`  (b) latency at ${P.latencyRate} deliveries/s: ${brief(latency)}`);
        return { fanoutSmall, latency: { targetDeliveriesPerSec: P.latencyRate, ...latency } };
      }),
    );
  }

  if (phase === 3) {
    // A topic per organisation (our server: a session in each of twoOrgs organisations), so a cluster's slots spread.
    const spread = { ...ctx, orgs: P.twoOrgs, topicOrgs: new Map<string, string>() };
    result.phase3 = await attempt('phase 3', () =>
      withRig(target, spread, 2, P.twoOrgs, async (rig, _instances, connect) => {
        await connect(P.twoN);
        const twoInstances = await burst(rig, P.twoEvents, P.timeoutMs);
        log(
          `  (e) two instances, N=${twoInstances.subscribers} E=${P.twoEvents} per topic, ${P.twoOrgs} topics: ${brief(twoInstances)}`,
        );
        return { twoInstances };
      }),
    );
  }

  if (phase === 4) {
    const largest = P.scaleSteps[P.scaleSteps.length - 1]!;
    const topicCount = Math.ceil(largest / P.scaleGroupSize);
    result.phase4 = await attempt('phase 4', () =>
      withRig(target, ctx, 1, topicCount, async (rig, [instance], connect) => {
        const steps: unknown[] = [];
        let best = 0;
        let connected = 0;
        for (const step of P.scaleSteps) {
          const stepResult = await attempt(`scale ${step}`, async () => {
            await connect(step - connected);
            connected = step;
            const measured = await steady(rig, P.lightDeliveriesPerSec, P.lightSeconds);
            return { ...measured, rssBytes: rssOf(instance!.pid) };
          });
          steps.push({ connections: step, ...stepResult });
          if ('error' in stepResult) break;
          log(`  (d) ${step} connections in ${topicCount} conversations: ${brief(stepResult)}`);
          if (!stepResult.complete || stepResult.latencyMs.p99 >= 100) break;
          best = step;
        }
        return {
          steps,
          conversations: topicCount,
          lightDeliveriesPerSec: P.lightDeliveriesPerSec,
          fdCapPerProcess: SERVER_FD_CAP,
          maxConnectionsP99Under100ms: best,
          largestStepTried: connected,
        };
      }),
    );
  }

  if (phase === 5) {
    result.phase5 = await attempt('phase 5', () =>
      withRig(target, ctx, 1, Math.ceil(P.stormN / P.scaleGroupSize), async (rig, [instance], _connect, storm) => {
        const outcome = await storm(P.stormN);
        const connectMs = Math.round(outcome.settledAt - outcome.startedAt);
        const failed = outcome.failed;
        const live = await waitLive(rig);
        const allLiveMs = Math.round(clock() - outcome.startedAt);
        log(
          `  (f) storm of ${P.stormN}: ${failed} failed ${JSON.stringify(outcome.failures)}, ` +
            `connects settled in ${connectMs} ms, all ${live.live} subscribed and live in ${allLiveMs} ms`,
        );
        return {
          storm: {
            clients: P.stormN,
            failed,
            failures: outcome.failures,
            subscribed: live.live,
            connectMs,
            allLiveMs,
            rssBytes: rssOf(instance!.pid),
          },
        };
      }),
    );
  }

  if (phase === 6) {
    if (!target.name.startsWith('ours')) return void log('    (g) no sendMessage API: skipped');
    result.phase6 = await attempt('phase 6', async () => {
      // One sender sends back to back: the per-user rate limit is not what this measures.
      const instance = await target.start({
        ...ctx,
        oursEnv: { RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000' },
      });
      try {
        const sends = await measureSends(ctx, instance, P.sendSizes, P.sends);
        for (const s of sends) {
          log(
            `  (g) sendMessage, ${s.members} members: p50 ${s.latencyMs.p50} p99 ${s.latencyMs.p99} ms, ` +
              `${s.redisCommandsPerSend} Redis round trips per send (${s.scriptCommandsPerSend} commands inside its script)`,
          );
        }
        return { sends };
      } finally {
        await instance.stop();
      }
    });
  }

  if (phase === 7) {
    result.phase7 = await attempt('phase 7', async () => {
      // One member sends back to back (the per-user rate limit is not what this measures), and each
      // member has about chatN / chatMembers connections (above the default per-user cap of 20).
      const instance = await target.start({
        ...ctx,
        oursEnv: { RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000', MAX_CONNECTIONS_PER_USER: '1000' },
      });
      let fleet: Fleet | undefined;
      let chat: Chat | undefined;
      try {
        chat = await setUpChat(target.name, ctx, instance, P.chatMembers);
        fleet = Fleet.spawn(files.worker, WORKERS);
        const rig: Rig = { fleet, publisher: chat.publisher, topics: [chat.room], serverPids: [instance.pid] };
        const connected = await fleet.connect(chat.client, P.chatN, 0);
        if (connected.failed > 0) throw new Error(`${connected.failed} of ${P.chatN} connections failed`);
        await waitLive(rig);
        chat.resetLatency();
        const delivery = await burst(rig, P.chatMessages, P.timeoutMs);
        const sent = chat.latency();
        const sendLatencyMs = {
          p50: Number(sent.quantile(0.5).toFixed(2)),
          p99: Number(sent.quantile(0.99).toFixed(2)),
          max: Number(sent.max.toFixed(2)),
        };
        log(
          `  (h) chat, ${P.chatN} subscribers of a ${P.chatMembers}-member room, ${P.chatMessages} messages ` +
            `(${SEND_CONCURRENCY} sends in flight): ${brief(delivery)}; send p50 ${sendLatencyMs.p50} p99 ${sendLatencyMs.p99} ms`,
        );
        return {
          chat: { members: P.chatMembers, sendConcurrency: SEND_CONCURRENCY, ...delivery, sendLatencyMs },
        };
      } finally {
        await chat?.publisher.close();
        await fleet?.close();
        await instance.stop();
      }
    });
  }
}

let files: Awaited<ReturnType<typeof buildAll>>;

async function main() {
  const started = new Date();
  log(`bench ${quick ? '(quick) ' : ''}targets=${targetNames.join(',')} phases=${[...phases].join(',')}`);
  files = await buildAll();
  const redis = await startRedis();
  const cluster = targetNames.some((name) => TARGETS[name]?.cluster)
    ? await startRedisCluster(redisServer())
    : undefined;
  const secret = 'bench-secret-that-is-long-enough-for-hs256!!';
  const load = [loadavg()];
  const results: Record<string, unknown> = {};
  try {
    if (flag('profile')) {
      results.profile = await profile(redis.url, secret);
    } else {
      for (const name of targetNames) {
        if (!TARGETS[name]) throw new Error(`unknown target ${name}`);
        results[name] = { label: TARGETS[name].label };
      }
      for (const phase of [1, 2, 3, 4, 5, 6, 7].filter((p) => phases.has(p))) {
        log(`\n-- phase ${phase}`);
        for (const name of targetNames) {
          // --prof-ours: every instance of our server writes a CPU profile (to bench/results/profile-<time>/).
          const profiled = flag('prof-ours') && name === 'ours';
          const nodeArgs = name.startsWith('ours') ? oursNodeArgs : [];
          const ctx = context(
            `${name}-${phase}`,
            redis.url,
            secret,
            profiled ? [...profileArgs(), ...nodeArgs] : nodeArgs,
          );
          const target = TARGETS[name];
          const result = results[name] as Record<string, unknown>;
          if (!target.cluster || !cluster) {
            await benchPhase(phase, target, ctx, result);
            continue;
          }
          const before = await shardFigures(cluster.seeds);
          await benchPhase(phase, target, { ...ctx, clusterNodes: cluster.seeds }, result);
          const shards = spreadBetween(before, await shardFigures(cluster.seeds));
          result[`phase${phase}Shards`] = shards;
          log(
            `  shards: ${shards.map((s) => `${s.node} ${s.evals} scripts ${s.spublishes} SPUBLISH ${s.keys} keys`).join('; ')}`,
          );
        }
        load.push(loadavg());
      }
    }
  } finally {
    await redis.stop();
    await cluster?.stop();
  }
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    quick,
    machine: { cpus: cpus().length, node: process.version, loadAverages: load },
    parameters: {
      ...P,
      clientWorkers: WORKERS,
      oursRunner: flag('tsx') ? 'tsx loader' : 'esbuild bundle',
      oursNodeArgs,
    },
    targets: results,
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  if (!flag('profile')) printReport(report, log);
  log(`\nwrote ${file}`);
}

function context(name: string, redisUrl: string, secret: string, oursNodeArgs: string[]): RunContext {
  return {
    redisUrl,
    secret,
    org: 'org-bench',
    prefix: `bench:${stamp}:${name}:`,
    oursNodeArgs,
    files: { ours: files.ours, peer: files.peer, orphanGuard: orphanGuard() },
    tsx: flag('tsx'),
  };
}

/** The redis-server the cluster targets run on. */
function redisServer(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (found.status !== 0 || !found.stdout.trim()) throw new Error('ours-cluster needs redis-server on PATH');
  return found.stdout.trim();
}

function profileArgs(): string[] {
  const dir = join(resultsDir, `profile-${stamp}`);
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Our server alone under fan-out, with --cpu-prof; the profile is written when it exits. */
async function profile(redisUrl: string, secret: string) {
  const dir = join(resultsDir, `profile-${stamp}`);
  mkdirSync(dir, { recursive: true });
  const n = Number(option('n') ?? (quick ? 1000 : 10_000));
  const events = Number(option('events') ?? (quick ? 20 : 30));
  const ctx = context('ours', redisUrl, secret, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const bursts = await withRig(TARGETS.ours, ctx, 1, 1, async (rig, _instances, connect) => {
    await connect(n);
    const out: DeliveryResult[] = [];
    for (let i = 0; i < 3; i++) {
      out.push(await burst(rig, events, P.timeoutMs));
      log(`  burst ${i + 1}: ${brief(out[i]!)}`);
    }
    return out;
  });
  log(`profile written to ${dir} (summarise: npx tsx bench/profile-summary.ts ${dir}/*.cpuprofile)`);
  return { dir, subscribers: n, events, bursts };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    killAll();
    process.exit(1);
  },
);
