/** Turns a bench report into the table of figures, ratios to each peer, and the targets. */

type Any = any;
const get = (value: Any, path: string): number | undefined => {
  const found = path.split('.').reduce((v, key) => (v == null ? undefined : v[key]), value);
  return typeof found === 'number' && Number.isFinite(found) ? found : undefined;
};

interface Row {
  label: string;
  /** Which direction is better, for reading the ratios. */
  better: '↑' | '↓';
  value: (t: Any) => number | undefined;
}

const stepOf = (t: Any, connections: number) =>
  (t?.phase4?.steps as Any[] | undefined)?.find((s) => s.connections === connections && !s.error);

const lastStep = (t: Any) => {
  const steps = t?.phase4?.steps as Any[] | undefined;
  const ok = steps?.filter((s) => !s.error);
  return ok?.[ok.length - 1];
};

export function rows(report: Any): Row[] {
  const p = report.parameters;
  return [
    {
      label: `(a) fan-out N=${p.smallN} E=${p.smallEvents}: deliveries/s`,
      better: '↑',
      value: (t) => get(t, 'phase2.fanoutSmall.deliveriesPerSec'),
    },
    {
      label: `(a) fan-out N=${p.smallN}: last subscriber done, ms`,
      better: '↓',
      value: (t) => get(t, 'phase2.fanoutSmall.lastSubscriberMs'),
    },
    {
      label: `(a) fan-out N=${p.bigN} E=${p.bigEvents}: deliveries/s`,
      better: '↑',
      value: (t) => get(t, 'phase1.fanoutBig.deliveriesPerSec'),
    },
    {
      label: `(a) fan-out N=${p.bigN}: last subscriber done, ms`,
      better: '↓',
      value: (t) => get(t, 'phase1.fanoutBig.lastSubscriberMs'),
    },
    {
      label: `(a) server CPU µs per delivery (N=${p.smallN})`,
      better: '↓',
      value: (t) => get(t, 'phase2.fanoutSmall.serverCpuUsPerDelivery'),
    },
    {
      label: `(a) server CPU µs per delivery (N=${p.bigN})`,
      better: '↓',
      value: (t) => get(t, 'phase1.fanoutBig.serverCpuUsPerDelivery'),
    },
    {
      label: `(b) latency p50 at ${p.latencyRate} deliveries/s, ms`,
      better: '↓',
      value: (t) => get(t, 'phase2.latency.latencyMs.p50'),
    },
    {
      label: `(b) latency p99 at ${p.latencyRate} deliveries/s, ms`,
      better: '↓',
      value: (t) => get(t, 'phase2.latency.latencyMs.p99'),
    },
    {
      label: '(c) RSS per idle subscribed connection, KiB',
      better: '↓',
      value: (t) => {
        const bytes = get(t, 'phase1.memory.bytesPerConnection');
        return bytes === undefined ? undefined : Math.round(bytes / 102.4) / 10;
      },
    },
    {
      label: `(d) most connections with p99 < 100 ms at ${p.lightDeliveriesPerSec} deliveries/s (steps ${p.scaleSteps.join('/')}; fd cap 20k)`,
      better: '↑',
      value: (t) => get(t, 'phase4.maxConnectionsP99Under100ms'),
    },
    {
      label: '(d) p99 at the largest step reached, ms',
      better: '↓',
      value: (t) => get(lastStep(t), 'latencyMs.p99'),
    },
    ...(p.scaleSteps as number[]).map((step): Row => ({
      label: `(d) p99 at ${step.toLocaleString('en-US')} connections, ms`,
      better: '↓',
      value: (t) => get(stepOf(t, step), 'latencyMs.p99'),
    })),
    ...(p.stormN
      ? [
          {
            label: `(f) reconnect storm of ${p.stormN.toLocaleString('en-US')}: connects failed (refused, reset, closed)`,
            better: '↓',
            value: (t) => get(t, 'phase5.storm.failed'),
          } satisfies Row,
          {
            label: '(f) reconnect storm: every client subscribed and live, ms',
            better: '↓',
            value: (t) => get(t, 'phase5.storm.allLiveMs'),
          } satisfies Row,
        ]
      : []),
    {
      label: `(e) two instances N=${p.twoN} E=${p.twoEvents}: deliveries/s`,
      better: '↑',
      value: (t) => get(t, 'phase3.twoInstances.deliveriesPerSec'),
    },
    {
      label: '(e) two instances: last subscriber done, ms',
      better: '↓',
      value: (t) => get(t, 'phase3.twoInstances.lastSubscriberMs'),
    },
    ...(p.chatN
      ? [
          {
            label: `(h) chat: ${p.chatN} subscribers of a ${p.chatMembers}-member room, ${p.chatMessages} messages sent through the API: deliveries/s`,
            better: '↑',
            value: (t) => get(t, 'phase7.chat.deliveriesPerSec'),
          } satisfies Row,
          {
            label: '(h) chat: delivery latency p50, ms (from the send to the receipt)',
            better: '↓',
            value: (t) => get(t, 'phase7.chat.latencyMs.p50'),
          } satisfies Row,
          {
            label: '(h) chat: send latency p50, ms',
            better: '↓',
            value: (t) => get(t, 'phase7.chat.sendLatencyMs.p50'),
          } satisfies Row,
          {
            label: '(h) chat: send latency p99, ms',
            better: '↓',
            value: (t) => get(t, 'phase7.chat.sendLatencyMs.p99'),
          } satisfies Row,
        ]
      : []),
    ...((p.sendSizes ?? []) as number[]).flatMap((members, i): Row[] => [
      {
        label: `(g) sendMessage p50, ${members.toLocaleString('en-US')} members, ms`,
        better: '↓',
        value: (t) => get(t, `phase6.sends.${i}.latencyMs.p50`),
      },
      {
        label: `(g) Redis round trips per send, ${members.toLocaleString('en-US')} members`,
        better: '↓',
        value: (t) => get(t, `phase6.sends.${i}.redisCommandsPerSend`),
      },
    ]),
  ];
}

const fmt = (n: number | undefined) =>
  n === undefined ? '—' : Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : String(n);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '—' : `${(a / b).toFixed(2)}x`;

/** The table as Markdown (what docs/performance.md shows). */
export function table(report: Any): string {
  const t = report.targets;
  const header = [
    'scenario',
    '',
    'ours',
    'socket.io',
    'graphql-ws plain',
    'ws floor',
    'ours/socket.io',
    'ours/ws',
    'ours/graphql',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows(report)) {
    const [ours, sio, gql, ws] = ['ours', 'socketio', 'graphql', 'ws'].map((name) => row.value(t[name]));
    lines.push(
      `| ${[row.label, row.better, fmt(ours), fmt(sio), fmt(gql), fmt(ws), ratio(ours, sio), ratio(ours, ws), ratio(ours, gql)].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** The targets, each met or not, with the figure. */
export function targets(report: Any): string[] {
  const t = report.targets;
  const p = report.parameters;
  const out: string[] = [];
  const check = (name: string, ok: boolean | undefined, detail: string) =>
    out.push(`${ok === undefined ? 'n/a ' : ok ? 'MET ' : 'GAP '} ${name}: ${detail}`);
  // Wall-clock deliveries/s, and deliveries per second of server CPU (the inverse of CPU per
  // delivery): what one core would deliver, least disturbed by other work on a shared machine.
  const perCpuSecond = (t: Any, path: string) => {
    const us = get(t, path);
    return us ? 1e6 / us : undefined;
  };
  for (const [path, what, read] of [
    ['phase2.fanoutSmall.deliveriesPerSec', `N=${p.smallN}`, get],
    ['phase1.fanoutBig.deliveriesPerSec', `N=${p.bigN}`, get],
    ['phase2.fanoutSmall.serverCpuUsPerDelivery', `N=${p.smallN}, per server CPU-second`, perCpuSecond],
    ['phase1.fanoutBig.serverCpuUsPerDelivery', `N=${p.bigN}, per server CPU-second`, perCpuSecond],
  ] as const) {
    const ours = read(t.ours, path);
    const sio = read(t.socketio, path);
    const ws = read(t.ws, path);
    const gql = read(t.graphql, path);
    const r = (peer: number | undefined) => (ours !== undefined && peer ? ours / peer : undefined);
    const show = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(2)}x`);
    check(`deliveries/s ≥ Socket.IO (${what})`, r(sio) === undefined ? undefined : r(sio)! >= 1, show(r(sio)));
    check(`deliveries/s ≥ 0.8x ws (${what})`, r(ws) === undefined ? undefined : r(ws)! >= 0.8, show(r(ws)));
    check(`deliveries/s ≥ 3x plain GraphQL (${what})`, r(gql) === undefined ? undefined : r(gql)! >= 3, show(r(gql)));
  }
  // Resume's cost on the live path: the same fan-out with RESUME_WINDOW_SECONDS=0, in the same run.
  for (const [path, what] of [
    ['phase2.fanoutSmall.deliveriesPerSec', `N=${p.smallN}`],
    ['phase1.fanoutBig.deliveriesPerSec', `N=${p.bigN}`],
  ] as const) {
    const on = get(t.ours, path);
    const off = get(t['ours-resume-off'], path);
    if (off === undefined) continue;
    const r = on === undefined ? undefined : on / off;
    check(
      `deliveries/s with resume ≥ 0.9x resume off (${what})`,
      r === undefined ? undefined : r >= 0.9,
      r === undefined ? '—' : `${r.toFixed(2)}x (${fmt(on)} vs ${fmt(off)})`,
    );
  }
  const p99 = get(t.ours, 'phase2.latency.latencyMs.p99');
  check(
    `p99 < 50 ms at ${p.latencyRate} deliveries/s`,
    p99 === undefined ? undefined : p99 < 50,
    `${p99 ?? '—'} ms${p.latencyRate === 20000 ? '' : ' (quick run: not the target rate)'}`,
  );
  const mem = get(t.ours, 'phase1.memory.bytesPerConnection');
  const memWs = get(t.ws, 'phase1.memory.bytesPerConnection');
  check(
    'memory per connection ≤ 1.2x ws',
    mem === undefined || !memWs ? undefined : mem / memWs <= 1.2,
    mem === undefined || !memWs ? '—' : `${(mem / memWs).toFixed(2)}x (${mem} vs ${memWs} bytes)`,
  );
  // Issue 15, sockets per instance.
  const memSio = get(t.socketio, 'phase1.memory.bytesPerConnection');
  check(
    'memory per connection ≤ Socket.IO',
    mem === undefined || !memSio ? undefined : mem <= memSio,
    mem === undefined || !memSio ? '—' : `${(mem / memSio).toFixed(2)}x (${mem} vs ${memSio} bytes)`,
  );
  const largest = (p.scaleSteps as number[])[p.scaleSteps.length - 1]!;
  const p99Largest = get(stepOf(t.ours, largest), 'latencyMs.p99');
  check(
    `p99 < 50 ms at ${largest} connections, ${p.lightDeliveriesPerSec} deliveries/s`,
    p99Largest === undefined ? false : p99Largest < 50,
    p99Largest === undefined ? 'step not reached' : `${p99Largest} ms`,
  );
  for (const step of p.scaleSteps as number[]) {
    const ours = get(stepOf(t.ours, step), 'latencyMs.p99');
    const sio = get(stepOf(t.socketio, step), 'latencyMs.p99');
    check(
      `p99 < 2x Socket.IO's at ${step} connections`,
      ours === undefined || sio === undefined ? undefined : ours < 2 * sio,
      `${ours ?? '—'} vs ${sio ?? '—'} ms`,
    );
  }
  if (p.stormN) {
    const failed = get(t.ours, 'phase5.storm.failed');
    check(
      `no connect refused or reset in a storm of ${p.stormN}`,
      failed === undefined ? undefined : failed === 0,
      `${failed ?? '—'} failed ${JSON.stringify(t.ours?.phase5?.storm?.failures ?? {})}`,
    );
    const ours = get(t.ours, 'phase5.storm.allLiveMs');
    const sio = get(t.socketio, 'phase5.storm.allLiveMs');
    check(
      'storm: every client subscribed no slower than Socket.IO',
      ours === undefined || sio === undefined ? undefined : ours <= sio,
      `${ours ?? '—'} vs ${sio ?? '—'} ms`,
    );
  }
  // The write path: a send's cost flat in the room size, p50 under 3 ms idle up to 1,000 members.
  const sends = (t.ours?.phase6?.sends ?? []) as { members: number; latencyMs: { p50: number } }[];
  const upTo1000 = sends.filter((s) => s.members <= 1_000);
  if (upTo1000.length > 0) {
    check(
      'sendMessage p50 < 3 ms idle, every room size up to 1,000',
      upTo1000.every((s) => s.latencyMs.p50 < 3),
      upTo1000.map((s) => `${s.members}: ${s.latencyMs.p50} ms`).join(', '),
    );
  }
  const chatOurs = get(t.ours, 'phase7.chat.deliveriesPerSec');
  const chatSio = get(t.socketio, 'phase7.chat.deliveriesPerSec');
  if (chatOurs !== undefined || chatSio !== undefined) {
    check(
      'end-to-end chat fan-out at or above Socket.IO',
      chatOurs === undefined || chatSio === undefined ? undefined : chatOurs >= chatSio,
      `${chatOurs ?? '—'} vs ${chatSio ?? '—'} deliveries/s`,
    );
  }
  const most = get(t.ours, 'phase4.maxConnectionsP99Under100ms');
  check(
    '20,000 subscribed connections on one instance',
    most === undefined ? undefined : most >= 20_000,
    `${most ?? '—'} held with p99 < 100 ms; a process here can hold at most ~19,900 sockets (fd cap 20,000)`,
  );
  return out;
}

export function printReport(report: Any, log: (line: string) => void) {
  log('');
  log(table(report));
  log('');
  for (const line of targets(report)) log(line);
  for (const line of clusterSpread(report)) log(line);
  const load = report.machine.loadAverages as number[][];
  log(
    `\nload average (1 min) at the start and after each phase: ${load.map((l) => l[0]!.toFixed(2)).join(' → ')} on ${report.machine.cpus} cores`,
  );
}

/** Phase 3 on the cluster against one Redis, and how the cluster run spread over the masters. */
function clusterSpread(report: Any): string[] {
  const shards = report.targets['ours-cluster']?.phase3Shards as
    { node: string; evals: number; spublishes: number; keys: number }[] | undefined;
  if (!shards) return [];
  const onCluster = get(report.targets['ours-cluster'], 'phase3.twoInstances.deliveriesPerSec');
  const onOne = get(report.targets.ours, 'phase3.twoInstances.deliveriesPerSec');
  const ratio = onCluster !== undefined && onOne ? `${(onCluster / onOne).toFixed(2)}x` : '—';
  return [
    '',
    `(e) ${report.parameters.twoOrgs} organisations, two instances: ${onCluster ?? '—'} deliveries/s on a 3-shard cluster vs ${onOne ?? '—'} on one Redis (${ratio})`,
    ...shards.map((s) => `    master ${s.node}: ${s.evals} scripts, ${s.spublishes} SPUBLISH, ${s.keys} keys`),
  ];
}
