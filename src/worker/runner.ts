import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { CampaignExecution } from '../campaigns/execution.js';
import type { CampaignEvent } from '../campaigns/events.js';
import { awaitingReceipts, campaignMessageId, processedCount, type CampaignRecord } from '../campaigns/model.js';
import type { CampaignConfig } from '../config.js';
import type { EventBus, Unlisten } from '../events/bus.js';
import type { CommandQueue } from '../events/commands.js';
import { topics } from '../events/topics.js';
import type { Gateway, SendResult } from '../gateway/gateway.js';
import { now } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import type { LedgerClaim, Storage } from '../storage/index.js';
import type { CampaignCounts } from './counts.js';
import { takeLease, type HeldLease } from './lease.js';

/**
 * Runnable campaigns a worker looks at per poll, oldest first. Campaigns
 * held by other workers cost one failed claim each, so this bounds the
 * work of a poll; it must exceed what all workers together run at once.
 */
const RUNNABLE_SCAN = 1000;
/** Batches in a row with nothing but gateway errors before a campaign fails (about a minute of backing off). */
const MAX_FAILING_BATCHES = 8;
/** Events that stop the batch in flight: the worker re-reads the campaign before sending more. */
const INTERRUPTING: ReadonlySet<CampaignEvent['__typename']> = new Set([
  'CampaignPaused',
  'CampaignCancelled',
  'CampaignFailed',
  'CampaignCompleted',
]);

/** A running campaign runner. */
export interface CampaignRunner {
  /** Stops taking campaigns, winds down the batches in flight (unsent recipients handed back) and releases leases. */
  stop(): Promise<void>;
}

/** The lease key of a campaign: whoever holds it runs the campaign. */
export const campaignLeaseKey = (campaignId: string) => `campaign-run:${campaignId}`;

/**
 * Runs campaigns: finds runnable ones (polling every `pollMs`, and at once
 * when a start or resume wakes it: a queued command, which one worker
 * gets), takes each with a lease, and sends.
 *
 * The protocol that keeps every recipient sent to exactly once:
 *
 * 1. A worker runs a campaign only while it holds its lease (a claim with a
 *    TTL, renewed every third of it; `token` is fresh per run). A worker
 *    that dies stops renewing, and another takes the campaign over once the
 *    lease lapses.
 * 2. Before calling the gateway, the run claims a batch of recipients in
 *    the campaign's ledger: atomically, each is marked held by `token`.
 *    Nothing is sent to a recipient that is not so marked.
 * 3. After the gateway answers, the run records it (accepted or refused),
 *    only if it still holds the recipient. Recipients it did not get to
 *    (pause, shutdown) or whose send timed out are handed back.
 * 4. A crash between 2 and 3 leaves recipients claimed by a dead run, whose
 *    send may or may not have happened. The next claim hands them out
 *    again (as orphans) and they are sent again with the same
 *    deterministic message id: the gateway is idempotent by id, so a
 *    recipient that did get the message is not sent it twice, and one that
 *    did not gets it now. No recipient is skipped: each is pending, claimed
 *    or dealt with, and claims come back until dealt with.
 * 5. A run that stalls past its lease (and is taken over) finds out at its
 *    next renewal or record; until then it may race the new run on the
 *    same recipients, and the gateway's idempotency again keeps it to one.
 */
export async function startCampaignRunner(options: {
  execution: CampaignExecution;
  gateway: Gateway;
  storage: Storage;
  bus: EventBus;
  commands: CommandQueue;
  config: CampaignConfig;
  logger: Logger;
  workerId: string;
  /** Where sends are counted (`/metrics`). */
  counts: CampaignCounts;
}): Promise<CampaignRunner> {
  const { execution, gateway, storage, bus, commands, config, logger, workerId, counts } = options;
  const running = new Map<string, Promise<void>>();
  const stopping = new AbortController();
  let woken = false;
  let wakeUp: (() => void) | undefined;
  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const idle = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakeUp = undefined;
        woken = false;
        resolve();
      };
      const timer = setTimeout(done, config.pollMs);
      wakeUp = done;
      if (woken || stopping.signal.aborted) done();
    });

  /** Sends one batch of claimed recipients at the session's pace; hands back what it did not send. */
  const sendBatch = async (
    record: CampaignRecord,
    token: string,
    claims: readonly LedgerClaim[],
    signal: AbortSignal,
    recipientOf: (item: number) => Promise<string>,
  ) => {
    const interval = 1000 / config.sendRate;
    const wait = await storage.pace(`campaign-send:${record.sessionId}`, interval, claims.length);
    const start = performance.now() + wait;
    const stopBatch = linkedAbort(signal);
    const batchSignal = stopBatch.signal;
    // Every recipient of the batch waits on it for its turn: a batch's worth of listeners, not a leak.
    setMaxListeners(claims.length + 10, batchSignal);
    const unsent: number[] = [];
    const outcome = { succeeded: 0, errors: 0, lastError: '', lost: false, broken: undefined as unknown };
    await Promise.all(
      claims.map(async ({ item }, i) => {
        try {
          const to = await recipientOf(item);
          if (!(await until(start + i * interval, batchSignal))) return void unsent.push(item);
          let result: SendResult;
          try {
            result = await gateway.send({
              id: campaignMessageId(record.id, item),
              orgId: record.orgId,
              sessionId: record.sessionId,
              to,
              body: record.message,
            });
          } catch (error) {
            counts.sends.error++;
            outcome.errors++;
            outcome.lastError = error instanceof Error ? error.message : String(error);
            return void unsent.push(item);
          }
          counts.sends[result.status]++;
          if ((await execution.record(record, token, item, result)) === 'recorded') outcome.succeeded++;
          else {
            outcome.lost = true;
            stopBatch.abort();
          }
        } catch (error) {
          // Storage failed: the recipient stays claimed (an orphan for the next run, resent under the same id).
          outcome.broken ??= error;
          stopBatch.abort();
        }
      }),
    );
    stopBatch.dispose();
    await execution.release(record, token, unsent);
    if (outcome.broken !== undefined) throw outcome.broken;
    return outcome;
  };

  /** After the last send: waits (bounded) for receipts, then completes. False when the campaign must be looked at again. */
  const finish = async (record: CampaignRecord, signal: AbortSignal): Promise<boolean> => {
    const deadline = Date.now() + config.receiptWaitMs;
    for (;;) {
      const counts = await execution.counts(record);
      // Nothing to claim, yet not all dealt with: another run is still winding down its batch.
      if (processedCount(counts) < record.total) return !(await delay(config.pollMs, signal));
      if (awaitingReceipts(counts) === 0 || Date.now() >= deadline) {
        await execution.publishProgress(record, counts);
        await execution.complete(record);
        return true;
      }
      const current = await execution.load(record.id);
      if (current?.status !== 'RUNNING') return false;
      if (!(await delay(Math.min(config.pollMs, 200), signal))) return true;
    }
  };

  const runCampaign = async (id: string, token: string, lease: HeldLease) => {
    const log = logger.child({ campaignId: id, run: token });
    const runStop = linkedAbort(stopping.signal, lease.signal);
    const signal = runStop.signal;
    let unlisten: Unlisten | undefined;
    let record: CampaignRecord | undefined;
    try {
      record = await execution.load(id);
      if (record?.status !== 'RUNNING') return;
      let interrupt = linkedAbort(signal);
      unlisten = await bus.listen(topics.campaign(record.orgId, id), (event) => {
        if (INTERRUPTING.has(event.__typename)) interrupt.abort();
      });
      const recipientOf = execution.recipients(record);
      let failingBatches = 0;
      log.info('running campaign');
      while (!signal.aborted) {
        // Reset before reading the status: a pause after the read still interrupts the batch.
        interrupt.dispose();
        interrupt = linkedAbort(signal);
        const current = await execution.load(id);
        if (current?.status !== 'RUNNING') {
          if (current?.status === 'PAUSED') await execution.publishProgress(current, await execution.counts(current));
          break;
        }
        const session = await execution.checkSession(current);
        if (!session.ok) {
          log.info({ reason: session.reason }, `campaign ${session.action === 'fail' ? 'failed' : 'paused'}`);
          if (session.action === 'fail') await execution.fail(current, session.reason);
          else if (await execution.pause(current, session.reason)) {
            await execution.publishProgress(current, await execution.counts(current));
          }
          break;
        }
        // A run that stalled past its lease must not take recipients back from its successor.
        if ((await storage.peek(campaignLeaseKey(id))) !== token) break;
        const claims = await execution.claim(current, token, config.batchSize);
        if (claims.length === 0) {
          if (await finish(current, signal)) break;
          continue;
        }
        const orphans = claims.filter((claim) => claim.orphan).length;
        if (orphans > 0) {
          log.info({ orphans }, 'resending to recipients a lost worker left unfinished (the gateway drops duplicates)');
        }
        const outcome = await sendBatch(current, token, claims, interrupt.signal, recipientOf);
        if (outcome.lost) {
          log.warn('another worker took the campaign over');
          break;
        }
        if (outcome.errors > 0 && outcome.succeeded === 0) {
          failingBatches++;
          log.warn({ err: outcome.lastError, failingBatches }, 'gateway errors; backing off');
          if (failingBatches >= MAX_FAILING_BATCHES) {
            await execution.fail(current, `The gateway kept failing: ${outcome.lastError}`);
            break;
          }
          await delay(Math.min(500 * 2 ** (failingBatches - 1), 30_000), signal);
        } else {
          failingBatches = 0;
        }
      }
    } finally {
      unlisten?.();
      runStop.dispose();
      await lease.release();
      if (stopping.signal.aborted && record) {
        // Shutting down: let another worker take the campaign over now rather than at its next poll.
        await commands.send(topics.campaignWork(), { campaignId: id, occurredAt: now() }).catch(() => undefined);
      }
      log.info('campaign run ended');
    }
  };

  const fill = async () => {
    if (running.size >= config.concurrency) return;
    for (const id of await execution.runnable(RUNNABLE_SCAN)) {
      if (stopping.signal.aborted || running.size >= config.concurrency) return;
      if (running.has(id)) continue;
      const token = `${workerId}:${randomUUID().slice(0, 8)}`;
      const lease = await takeLease(storage, campaignLeaseKey(id), token, config.leaseMs, logger);
      if (!lease) continue;
      let failed = false;
      const run = runCampaign(id, token, lease)
        .catch((error: unknown) => {
          failed = true;
          logger.error({ campaignId: id, err: error }, 'campaign run failed; retrying at the next poll');
        })
        .finally(() => {
          running.delete(id);
          // A run that ended normally may have freed a slot; one that failed waits for the poll.
          if (!failed) wake();
        });
      running.set(id, run);
    }
  };

  // A wake-up queued while no worker ran (or while this one was away from Redis) still comes.
  const stopWork = await commands.consume(topics.campaignWork(), wake);
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      await fill().catch((error: unknown) => logger.warn({ err: String(error) }, 'looking for campaigns failed'));
      await idle();
    }
  })();

  return {
    async stop() {
      stopping.abort();
      wake();
      await stopWork();
      await loop;
      await Promise.all(running.values());
    },
  };
}

/**
 * An abort controller that also aborts when any of `parents` does, and
 * stops listening to them on `dispose()` (parents live long; batches do not).
 */
function linkedAbort(...parents: AbortSignal[]) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  for (const parent of parents) {
    if (parent.aborted) abort();
    else parent.addEventListener('abort', abort, { once: true });
  }
  return {
    signal: controller.signal,
    abort,
    dispose: () => parents.forEach((parent) => parent.removeEventListener('abort', abort)),
  };
}

/** Waits until `performance.now()` reaches `at`; false when `signal` aborted first. */
function until(at: number, signal: AbortSignal): Promise<boolean> {
  return delay(at - performance.now(), signal);
}

/** Waits `ms`; false when `signal` aborted first (or already had). */
function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
