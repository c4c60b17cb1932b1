import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DEFAULT_RETENTION, type GatewayConfig } from '../config.js';
import { now } from '../lib/ids.js';
import type { Logger } from '../logger.js';
import { retentionOf, type Doc, type IndexEntry, type Storage } from '../storage/index.js';
import type {
  Gateway,
  OutgoingMessage,
  Receipt,
  ReceiptStatus,
  SendResult,
  SessionReport,
  SessionTarget,
  StopListening,
} from './gateway.js';

/** A message as the simulated network keeps it: its log of what it transmitted. */
export interface SimulatedMessage extends Doc {
  orgId: string;
  sessionId: string;
  to: string;
  body: string;
  outcome: SendResult;
  /** Send calls that carried this id; all but the first were dropped as duplicates. */
  attempts: number;
  acceptedAt: string;
  /** Receipts reported so far, in order. */
  reported: ReceiptStatus[];
  /** Receipts not reported yet, with when they fall due (epoch ms). */
  pending: { status: ReceiptStatus; at: number; error: string | null }[];
}

/** Where a message is indexed: in its session's log, and by its next receipt while one is pending. */
function indexesOf(message: SimulatedMessage): IndexEntry[] {
  const entries = [{ index: bySession(message.sessionId), score: Date.parse(message.acceptedAt) }];
  if (message.pending.length > 0) {
    entries.push({ index: DUE, score: Math.min(...message.pending.map((receipt) => receipt.at)) });
  }
  return entries;
}

/** A transient failure of the simulated gateway: the caller cannot know whether it took the message. */
export class GatewayTimeoutError extends Error {
  override name = 'GatewayTimeoutError';
}

const MESSAGES = 'gateway-messages';
const DUE = 'due';
const bySession = (sessionId: string) => `session:${sessionId}`;

/**
 * A stand-in for a messaging network, good enough to watch the whole flow
 * without a phone. It keeps its state in the shared storage, as a real
 * gateway is one service for every worker: a message accepted by a worker
 * that then dies still gets its receipts, and a resend of the same id from
 * any worker is recognised and dropped.
 *
 * Sending: answers after about `latencyMs`; `failureRate` of messages fail
 * (decided by their id, so it is the same on every retry): half refused at
 * once, half accepted and later reported `FAILED`. The rest are `SENT`
 * after about one latency, `DELIVERED` after two, and about half `READ`
 * after four. `errorRate` of calls time out, half of them after the message
 * was taken (the nasty case: the caller must resend, and the resend must
 * not transmit again).
 *
 * Sessions: `connectSession` reports `QR_REQUIRED` with a fresh QR code at
 * once and every `qrIntervalMs`, and `CONNECTED` `scanDelayMs` later, as
 * if a phone scanned it. One instance drives each session (a lease in the
 * shared storage); `disconnectSession` stops it.
 */
export function createSimulatedGateway(
  options: GatewayConfig & {
    storage: Storage;
    logger: Logger;
    instanceId?: string;
    /** `GATEWAY_LOG_RETENTION_SECONDS`: each message's record expires this long after it was taken (0: kept). */
    logRetentionSeconds?: number;
  },
): Gateway {
  const { storage, logger, latencyMs, failureRate, errorRate, qrIntervalMs, scanDelayMs } = options;
  const instanceId = options.instanceId ?? randomUUID();
  const retention = retentionOf(options.logRetentionSeconds ?? DEFAULT_RETENTION.gatewayLogSeconds);
  const messages = storage.collection<SimulatedMessage>(MESSAGES, retention);
  const receiptListeners = new Set<(receipt: Receipt) => Promise<void>>();
  const sessionListeners = new Set<(report: SessionReport) => Promise<void>>();
  const drivers = new Map<string, { timers: NodeJS.Timeout[]; stopped: boolean }>();
  const tickMs = Math.min(Math.max(Math.round(latencyMs / 2), 10), 250);
  let poller: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let closed = false;

  const jitter = (ms: number) => ms * (0.5 + Math.random());

  /** Receipts a new message will get, decided by its id so retries agree. */
  const plan = (id: string, acceptedAt: number): { outcome: SendResult; pending: SimulatedMessage['pending'] } => {
    const [fails, refused, read] = unitsFromId(id);
    let at = acceptedAt;
    const next = () => (at += Math.max(1, jitter(latencyMs)));
    if (fails! < failureRate && refused! < 0.5) {
      return { outcome: { status: 'refused', error: 'The recipient is not on the network' }, pending: [] };
    }
    const pending: SimulatedMessage['pending'] = [{ status: 'SENT', at: next(), error: null }];
    if (fails! < failureRate) {
      pending.push({ status: 'FAILED', at: next(), error: 'The phone did not take the message' });
    } else {
      pending.push({ status: 'DELIVERED', at: next(), error: null });
      if (read! < 0.5) pending.push({ status: 'READ', at: next() + latencyMs, error: null });
    }
    return { outcome: { status: 'accepted' }, pending };
  };

  const emitDue = async (id: string) => {
    const listeners = [...receiptListeners];
    if (listeners.length === 0) return;
    const lock = `gateway:due:${id}`;
    // Short: an instance that dies holding it delays these receipts by no more than this.
    if ((await storage.claim(lock, instanceId, 2_000)) !== instanceId) return;
    try {
      const message = await messages.get(id);
      const due = message?.pending.filter((receipt) => receipt.at <= Date.now()) ?? [];
      for (const receipt of due) {
        for (const listener of listeners) {
          await listener({ messageId: id, status: receipt.status, error: receipt.error, occurredAt: now() });
        }
      }
      if (due.length === 0) return;
      const reported = new Set(due.map((receipt) => receipt.status));
      await messages.update(
        id,
        (current) => ({
          ...current,
          reported: [...current.reported, ...due.map((receipt) => receipt.status)],
          pending: current.pending.filter((receipt) => !reported.has(receipt.status)),
        }),
        indexesOf,
      );
    } finally {
      await storage.release(lock, instanceId);
    }
  };

  const poll = async () => {
    // Nobody to hand receipts to: leave them due for an instance that has a listener.
    if (receiptListeners.size === 0) return;
    const ids = await messages.ids(DUE, { below: Date.now() + 1, limit: 200 });
    const results = await Promise.allSettled(ids.map(emitDue));
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) logger.warn({ err: String(failure.reason) }, 'simulated gateway: receipts not delivered, retrying');
  };

  const startPolling = () => {
    if (poller || closed) return;
    poller = setInterval(() => {
      polling ??= poll()
        .catch((error: unknown) => logger.warn({ err: String(error) }, 'simulated gateway: receipt poll failed'))
        .finally(() => (polling = undefined));
    }, tickMs);
  };

  const report = async (report: SessionReport) => {
    for (const listener of sessionListeners) await listener(report);
  };

  const stopDriving = async (sessionId: string) => {
    const driver = drivers.get(sessionId);
    if (!driver) return;
    driver.stopped = true;
    driver.timers.forEach(clearTimeout);
    drivers.delete(sessionId);
    await storage.release(`gateway:session:${sessionId}`, instanceId).catch(() => false);
  };

  return {
    async send(message: OutgoingMessage): Promise<SendResult> {
      await sleep(jitter(latencyMs));
      const roll = Math.random();
      if (roll < errorRate / 2) throw new GatewayTimeoutError('The gateway did not answer in time');
      const acceptedAt = Date.now();
      const { outcome, pending } = plan(message.id, acceptedAt);
      const record: SimulatedMessage = {
        ...message,
        outcome,
        attempts: 1,
        reported: [],
        acceptedAt: new Date(acceptedAt).toISOString(),
        pending,
      };
      let result = outcome;
      if (!(await messages.insert(record, indexesOf(record)))) {
        // Seen before: a retry. Transmit nothing; answer as the first time.
        const updated = await messages.update(message.id, (current) => ({
          ...current,
          attempts: current.attempts + 1,
        }));
        result = updated!.after.outcome;
      }
      if (roll < errorRate) throw new GatewayTimeoutError('The gateway did not answer in time');
      return result;
    },

    onReceipt(listener) {
      receiptListeners.add(listener);
      startPolling();
      return (() => receiptListeners.delete(listener)) as StopListening;
    },

    async connectSession({ orgId, sessionId }: SessionTarget) {
      if (drivers.has(sessionId) || closed) return;
      const lease = `gateway:session:${sessionId}`;
      const ttl = qrIntervalMs * 2 + 5_000;
      if ((await storage.claim(lease, instanceId, ttl)) !== instanceId) return;
      const driver = { timers: [] as NodeJS.Timeout[], stopped: false };
      drivers.set(sessionId, driver);
      const send = (fields: Omit<SessionReport, 'orgId' | 'sessionId'>) =>
        report({ orgId, sessionId, ...fields }).catch(async (error: unknown) => {
          logger.info({ sessionId, err: String(error) }, 'simulated gateway: stopped driving a session');
          await stopDriving(sessionId);
        });
      const showQr = async () => {
        if (driver.stopped) return;
        await storage.renew(lease, instanceId, ttl).catch(() => false);
        await send({ status: 'QR_REQUIRED', qrCode: simulatedQrCode() });
      };
      driver.timers.push(
        setInterval(() => void showQr(), qrIntervalMs),
        setTimeout(() => {
          if (driver.stopped) return;
          void send({
            status: 'CONNECTED',
            phoneNumber: simulatedPhoneNumber(sessionId),
            displayName: 'Simulated phone',
          }).then(() => stopDriving(sessionId));
        }, scanDelayMs),
      );
      await showQr();
    },

    async disconnectSession({ sessionId }: SessionTarget) {
      await stopDriving(sessionId);
    },

    onSessionReport(listener) {
      sessionListeners.add(listener);
      return (() => sessionListeners.delete(listener)) as StopListening;
    },

    async close() {
      closed = true;
      clearInterval(poller);
      await polling;
      await Promise.all([...drivers.keys()].map(stopDriving));
    },
  };
}

/**
 * What the simulated network transmitted for a session: one entry per
 * distinct message id (duplicates were dropped and counted in `attempts`).
 * For tests and demos: a real gateway's own log.
 */
export async function simulatedGatewayLog(storage: Storage, sessionId: string): Promise<SimulatedMessage[]> {
  return storage.collection<SimulatedMessage>(MESSAGES).list(bySession(sessionId));
}

/** Three numbers in [0, 1) derived from a message id. */
function unitsFromId(id: string): number[] {
  const digest = createHash('sha256').update(id).digest();
  return [0, 4, 8].map((offset) => digest.readUInt32BE(offset) / 2 ** 32);
}

/** Looks like what WhatsApp Web encodes in its QR codes. */
function simulatedQrCode(): string {
  return `2@${randomBytes(36).toString('base64')},${randomBytes(24).toString('base64')}`;
}

/** A stable fictional number per session (+1 555 01xx xxxx: reserved for fiction). */
function simulatedPhoneNumber(sessionId: string): string {
  const digits = createHash('sha256').update(sessionId).digest().readUInt32BE(0) % 1_000_000;
  return `+155501${String(digits).padStart(6, '0')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
