import type { Registry } from 'prom-client';
import type { CampaignCounts } from '../worker/counts.js';
import { exportCounter, samplesOfRecord } from './exported.js';
import { METRIC_PREFIX } from './names.js';

/** A worker's campaign sends and receipts. */
export function registerCampaignMetrics(registry: Registry, counts: CampaignCounts): void {
  exportCounter(registry, {
    name: `${METRIC_PREFIX}campaign_sends_total`,
    help:
      'Campaign messages handed to the gateway by this process, by outcome: accepted, refused (for good), ' +
      'error (outcome unknown: sent again later under the same id).',
    labelNames: ['outcome'],
    read: () => samplesOfRecord('outcome', counts.sends),
  });
  exportCounter(registry, {
    name: `${METRIC_PREFIX}campaign_receipts_total`,
    help: 'Delivery receipts this process heard from the gateway, by status (at least once each: repeats count).',
    labelNames: ['status'],
    read: () => samplesOfRecord('status', counts.receipts),
  });
}
