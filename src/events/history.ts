import { compareOffsets, type Offset } from './offsets.js';
import { channelContract } from './topics.js';

/**
 * Most events one replay reads from a channel. More than this after an
 * offset (a very busy channel, a long absence within a long window) is
 * answered like a history that lost them: nothing is replayed, rather than
 * a burst that would hold a process' memory and a client's socket.
 */
export const MAX_REPLAYED_EVENTS = 10_000;

/** One event read back from a channel's history, its payload checked like a live one. */
export interface HistoryEvent {
  offset: Offset;
  /** The wire form of {@link offset}, tagged on the payload (see `tagOffset`). */
  text: string;
  payload: unknown;
}

/**
 * The recent events of every organisation channel, kept for the resume
 * window so a client that reconnects gets what it missed (see the README's
 * "Resume after a reconnect"). Written in the same step as the event is
 * published; each engine keeps its own (Redis Streams, or in process).
 */
export interface EventHistory {
  /** How long events are kept, in milliseconds. */
  readonly windowMs: number;
  /**
   * The history's current epoch (undefined: nothing was ever recorded):
   * where a catch-up starts for a channel that has delivered no event yet.
   */
  epoch(): Promise<string | undefined>;
  /**
   * Whether every event of `orgId` after each offset is still kept: what
   * the WebSocket `connection_ack` answers per subscription id, before the
   * client has said which channels that subscription listens on.
   */
  recoverable(orgId: string, offsets: readonly Offset[]): Promise<boolean[]>;
  /**
   * The events of `channels` after `after`, oldest first, each checked
   * against its channel's schema; undefined when some of them may be gone
   * (past the window, another epoch) or a channel has more than
   * {@link MAX_REPLAYED_EVENTS} of them.
   */
  read(channels: readonly string[], after: Offset): Promise<HistoryEvent[] | undefined>;
}

/** What a history knows of an organisation when asked about an offset. */
export interface HistoryState {
  /** The current epoch (undefined: no event was ever recorded in this history). */
  epoch: string | undefined;
  /** Now, on the history's clock (Redis' own for Redis). */
  now: number;
  /** The last id given in the organisation (undefined: none since the epoch began). */
  last: Pick<Offset, 'ms' | 'seq'> | undefined;
}

/**
 * The one rule deciding whether the events after `after` are all kept:
 * same epoch, an id the organisation's clock has reached, and either the
 * offset is within the window (nothing after it can have been trimmed,
 * trimming only drops what is older than the window) or nothing happened in
 * the organisation since (a quiet organisation misses nothing, however old
 * the offset). An offset of another epoch is never recovered, so a history
 * lost with Redis' data is reported, not silently replayed as empty; one
 * ahead of the clock (forged, or from another organisation) is refused too.
 */
export function isRecoverable(after: Offset, state: HistoryState, windowMs: number): boolean {
  if (state.epoch === undefined) return false;
  if (state.epoch !== after.epoch) return false;
  // Beyond the last id the organisation gave (or it gave none): not one of its offsets.
  if (state.last === undefined || compareOffsets(after, state.last) > 0) return false;
  if (after.ms >= state.now - windowMs) return true;
  return compareOffsets(state.last, after) === 0;
}

/** The organisation of an `org:` channel (as its name holds it, encoded), or undefined for another channel. */
export function channelOrg(channel: string): string | undefined {
  if (!channel.startsWith('org:')) return undefined;
  const end = channel.indexOf(':', 4);
  return end < 0 ? undefined : channel.slice(4, end);
}

/**
 * The organisation whose history records the events of `channel`, or
 * undefined when they are not recorded: a channel outside any organisation,
 * or one no subscription replays (the status page's samples, asked for
 * afresh by each watcher and each listing up to 200 connections: kept for
 * the window they would only cost Redis memory).
 */
export function recordingOrg(channel: string): string | undefined {
  return channelContract(channel)?.kind === 'status' ? undefined : channelOrg(channel);
}

/** Events of several channels in offset order. */
export function byOffset(a: HistoryEvent, b: HistoryEvent): number {
  return compareOffsets(a.offset, b.offset);
}

/** The `ms-seq` id of an offset, as Redis Streams write it. */
export function streamId(offset: Pick<Offset, 'ms' | 'seq'>): string {
  return `${offset.ms}-${offset.seq}`;
}
