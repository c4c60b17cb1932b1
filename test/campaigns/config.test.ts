import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('campaign and gateway settings', () => {
  it('defaults: a worker inside the server exactly when there is no Redis', () => {
    const alone = loadConfig({});
    expect(alone.embeddedWorker).toBe(true);
    expect(alone.campaigns).toEqual({
      progressEvery: 100,
      sendRate: 20,
      batchSize: 50,
      leaseMs: 15_000,
      pollMs: 1000,
      receiptWaitMs: 30_000,
      concurrency: 4,
    });
    expect(alone.gateway).toEqual({
      latencyMs: 200,
      failureRate: 0.02,
      errorRate: 0,
      qrIntervalMs: 20_000,
      scanDelayMs: 30_000,
    });
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).embeddedWorker).toBe(false);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', EMBEDDED_WORKER: 'on' }).embeddedWorker).toBe(true);
    expect(loadConfig({ EMBEDDED_WORKER: 'off' }).embeddedWorker).toBe(false);
    expect(loadConfig({ GATEWAY_FAILURE_RATE: '0.25', CAMPAIGN_SEND_RATE: '80' })).toMatchObject({
      gateway: { failureRate: 0.25 },
      campaigns: { sendRate: 80 },
    });
  });

  it('refuses bad values with one line naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ GATEWAY_FAILURE_RATE: '2' }, /^GATEWAY_FAILURE_RATE must be a number from 0 to 1 \(got "2"\)$/],
      [{ GATEWAY_ERROR_RATE: 'often' }, /^GATEWAY_ERROR_RATE must be a number from 0 to 1/],
      [{ EMBEDDED_WORKER: 'maybe' }, /^EMBEDDED_WORKER .*"auto"\|"on"\|"off"/],
      [{ CAMPAIGN_SEND_RATE: '0' }, /^CAMPAIGN_SEND_RATE /],
      [{ CAMPAIGN_PROGRESS_EVERY: '1.5' }, /^CAMPAIGN_PROGRESS_EVERY must be a whole number/],
      [{ CAMPAIGN_LEASE_MS: '10' }, /^CAMPAIGN_LEASE_MS /],
    ];
    for (const [env, message] of cases) expect(() => loadConfig(env)).toThrow(message);
  });
});
