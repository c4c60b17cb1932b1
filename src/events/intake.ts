import type { Logger } from '../logger.js';
import type { ChannelContract } from './topics.js';

/** What a bus refused or failed to deliver since it started, for `/health`. */
export interface EventBusStats {
  /** Messages that reached this process, one per message and channel whatever the number of listeners. */
  received: number;
  /** Events dropped because they were not a valid payload of their channel (not JSON, wrong shape). */
  malformedDropped: number;
  /** Deliveries dropped because one listener (e.g. a subscriber's filter) threw; the others still got the event. */
  listenerErrors: number;
}

/** Something that hears a channel's events. */
export type Listener = (payload: unknown) => void;

/** How often the drops not logged one by one are summed up in the log. */
const DEFAULT_SUMMARY_INTERVAL_MS = 60_000;
/** Characters of a malformed message shown in the log. */
const PREVIEW_CHARS = 80;

/**
 * Where events enter a process, whichever engine carried them: each
 * message is checked once against its channel's schema, then handed to
 * every listener of the channel, each on its own, so that neither a
 * malformed event nor a listener that throws can reach the others, the
 * Redis connection's handler, or the process.
 *
 * Drops are counted in {@link stats} and logged without flooding: the first
 * of each channel kind in full (the reason and a short preview, never the
 * payload, which may be huge), the rest summed up once per interval.
 */
export function createEventIntake(options: { logger?: Logger; summaryIntervalMs?: number } = {}) {
  const { logger, summaryIntervalMs = DEFAULT_SUMMARY_INTERVAL_MS } = options;
  const stats: EventBusStats = { received: 0, malformedDropped: 0, listenerErrors: 0 };
  /** Kinds of drop ("malformed:tasks", "listener:conversation") logged in this interval, and those not logged since. */
  const logged = new Set<string>();
  const unlogged = new Map<string, number>();
  let summary: NodeJS.Timeout | undefined;

  const summarize = () => {
    summary = undefined;
    if (unlogged.size > 0) {
      logger?.warn(
        { dropped: Object.fromEntries(unlogged) },
        'events dropped since the last report (by cause and channel kind)',
      );
    }
    logged.clear();
    unlogged.clear();
  };

  /** Logs the first drop of `key` in an interval; counts the others for the summary. */
  const report = (key: string, details: Record<string, unknown>, message: string) => {
    if (!logger) return;
    if (!logged.has(key)) {
      logged.add(key);
      logger.warn(details, message);
    } else {
      unlogged.set(key, (unlogged.get(key) ?? 0) + 1);
    }
    if (!summary) {
      summary = setTimeout(summarize, summaryIntervalMs);
      summary.unref();
    }
  };

  return {
    stats: stats as Readonly<EventBusStats>,

    /**
     * Checks `payload` (received on `channel`) and hands it to each listener.
     * The listeners get the payload as received (fields unknown to this
     * version included), one object shared by all of them.
     */
    deliver(contract: ChannelContract, channel: string, listeners: Iterable<Listener>, payload: unknown): void {
      if (!check(contract, channel, payload)) return;
      for (const listener of listeners) {
        try {
          listener(payload);
        } catch (error) {
          stats.listenerErrors++;
          report(
            `listener:${contract.kind}`,
            { channelKind: contract.kind, channel, err: error },
            'an event listener failed; the event was dropped for it only',
          );
        }
      }
    },

    /** Checks `payload` (received on `channel`); a malformed one is counted and logged, and false. */
    check,

    /** Stops the pending summary (logging it now). */
    close() {
      if (summary) clearTimeout(summary);
      summarize();
    },
  };

  function check(contract: ChannelContract, channel: string, payload: unknown): boolean {
    stats.received++;
    const checked = contract.schema.safeParse(payload);
    if (!checked.success) {
      stats.malformedDropped++;
      const issue = checked.error.issues[0];
      report(
        `malformed:${contract.kind}`,
        {
          channelKind: contract.kind,
          channel,
          reason: issue ? `${issue.path.join('.') || '(payload)'}: ${issue.message}` : 'invalid',
          preview: preview(payload),
        },
        'dropped a malformed event',
      );
      return false;
    }
    return true;
  }
}

/** What a bus's event intake is. */
export type EventIntake = ReturnType<typeof createEventIntake>;

/**
 * A few words about a payload for the log, bounded whatever its size: the
 * start of a text (what is not JSON reaches us as text), the type and first
 * keys of anything else.
 */
function preview(payload: unknown): string {
  if (typeof payload === 'string') {
    return `text ${JSON.stringify(payload.length > PREVIEW_CHARS ? `${payload.slice(0, PREVIEW_CHARS)}…` : payload)} (${payload.length} characters)`;
  }
  if (Array.isArray(payload)) return `array of ${payload.length}`;
  if (payload === null || typeof payload !== 'object') return String(payload).slice(0, PREVIEW_CHARS);
  const keys = Object.keys(payload);
  const typename = (payload as { __typename?: unknown }).__typename;
  const shown = keys.slice(0, 10).join(', ') + (keys.length > 10 ? ', …' : '');
  return `object${typeof typename === 'string' ? ` ${JSON.stringify(typename.slice(0, PREVIEW_CHARS))}` : ''} with keys ${shown.slice(0, 2 * PREVIEW_CHARS)}`;
}
