import { randomUUID } from 'node:crypto';
import { createCampaignExecution } from '../campaigns/execution.js';
import type { Config } from '../config.js';
import type { EventBus } from '../events/bus.js';
import type { CommandQueue } from '../events/commands.js';
import type { Gateway } from '../gateway/gateway.js';
import { createSimulatedGateway } from '../gateway/simulated.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services.js';
import type { Storage } from '../storage/index.js';
import { countReceipt, createCampaignCounts, type CampaignCounts } from './counts.js';
import { startCampaignRunner } from './runner.js';
import { bridgeGatewaySessions } from './sessions.js';

/** A running worker: campaigns, gateway receipts and simulated sessions. */
export interface Worker {
  readonly id: string;
  /** Sends and receipts so far (`/metrics`). */
  readonly counts: CampaignCounts;
  /** Stops taking work, finishes the batches in flight, releases what it holds. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the background work on a runtime's storage, bus and services:
 * the campaign runner, the gateway's receipts applied to campaigns, and the
 * gateway driving sessions on `connectSession`. Runs in a worker process
 * (`npm run worker`) or inside the server (`EMBEDDED_WORKER`).
 */
export async function startWorker(options: {
  config: Pick<Config, 'campaigns' | 'gateway'> & Partial<Pick<Config, 'retention'>>;
  storage: Storage;
  bus: EventBus;
  commands: CommandQueue;
  services: Services;
  logger: Logger;
  gateway?: Gateway;
  /** Where sends and receipts are counted (`/metrics`). */
  counts?: CampaignCounts;
}): Promise<Worker> {
  const { config, storage, bus, commands, services, counts = createCampaignCounts() } = options;
  const id = randomUUID().slice(0, 8);
  const logger = options.logger.child({ worker: id });
  const gateway =
    options.gateway ??
    createSimulatedGateway({
      ...config.gateway,
      storage,
      logger,
      instanceId: id,
      logRetentionSeconds: config.retention?.gatewayLogSeconds,
    });
  const execution = createCampaignExecution({
    storage,
    bus,
    sessions: services.sessions,
    progressEvery: config.campaigns.progressEvery,
    retention: config.retention,
  });
  const stopReceipts = gateway.onReceipt((receipt) => {
    countReceipt(counts, receipt.status);
    return execution.applyReceipt(receipt);
  });
  const stopSessions = await bridgeGatewaySessions({ commands, gateway, sessions: services.sessions, logger });
  const runner = await startCampaignRunner({
    execution,
    gateway,
    storage,
    bus,
    commands,
    config: config.campaigns,
    logger,
    workerId: id,
    counts,
  });
  logger.info('worker started');

  let stopping: Promise<void> | undefined;
  return {
    id,
    counts,
    stop: () =>
      (stopping ??= (async () => {
        await runner.stop();
        await stopSessions();
        // Closing first: a receipt poll in flight still has its listener.
        await gateway.close();
        stopReceipts();
        logger.info('worker stopped');
      })()),
  };
}
