import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EMBEDDED } from '../campaigns/support.js';
import { startTestServer } from '../support/harness.js';
import { metricsOn, scrape, type Scrape } from './scrape.js';

/*
 * The sample Grafana dashboard and the README's metric table name only
 * metrics that exist, and the README names every one of this server's own.
 */

const root = new URL('../../', import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL('docs/grafana-dashboard.json', root), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};
const readme = readFileSync(new URL('README.md', root), 'utf8');
const metricsSection = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('## Security'));

/** A scrape of a server with every source: Redis, the embedded worker, both transports. */
async function fullScrape(): Promise<Scrape> {
  const server = await startTestServer({ backend: 'redis', env: { ...EMBEDDED, ...(await metricsOn()) } });
  return scrape(server.server.metricsUrl);
}

/** The metric family a sample name belongs to (`x_bucket` of histogram `x` is `x`). */
function familyOf(name: string, metrics: Scrape): string {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && metrics.types.get(base) === 'histogram' ? base : name;
}

describe('metrics documentation', () => {
  it('every metric the Grafana dashboard queries exists in a scrape', async () => {
    const metrics = await fullScrape();
    const used = new Set(
      dashboard.panels.flatMap((panel) =>
        panel.targets.flatMap((target) => target.expr.match(/\b(realtime_graphql|process|nodejs)_\w+/g) ?? []),
      ),
    );
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((name) => !metrics.types.has(familyOf(name, metrics)));
    expect(missing).toEqual([]);
  });

  it('the README lists every metric of this server and worker, and only those', async () => {
    const metrics = await fullScrape();
    const own = [...metrics.types.keys()].filter((name) => name.startsWith('realtime_graphql_'));
    expect(own.length).toBeGreaterThanOrEqual(14);
    const documented = new Set(metricsSection.match(/\brealtime_graphql_\w+/g));
    expect(own.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !metrics.types.has(familyOf(name, metrics)))).toEqual([]);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(metricsSection).toContain(name);
      expect(metrics.types.has(name), name).toBe(true);
    }
  });
});
