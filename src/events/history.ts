import { compareOffsets, type Offset } from './offsets.js';
import { channelContract } from './topics.js';

/**
 * Events read from a channel's history in one step: a replay holds at most
 * about this many per channel in memory, however many it delivers.
 */
export const REPLAY_PAGE_SIZE = 500;

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
   * The current epoch of the history `channel` is in (its organisation's;
   * undefined: nothing was ever recorded there): where a catch-up starts
   * for a channel that has delivered no event yet.
   */
  epoch(channel: string): Promise<string | undefined>;
  /**
   * Whether every event of `orgId` after each offset is still kept: what
   * the WebSocket `connection_ack` answers per subscription id, before the
   * client has said which channels that subscription listens on.
   */
  recoverable(orgId: string, offsets: readonly Offset[]): Promise<boolean[]>;
  /**
   * The events of `channels` after `after`, oldest first across them,
   * each checked against its channel's schema, read page by page as they
   * are asked for (see {@link HistoryReplay}).
   */
  read(channels: readonly string[], after: Offset): HistoryReplay;
}

/**
 * A replay, pulled a page at a time so that memory stays bounded however
 * much was missed. `next()` gives the next events in offset order: an
 * empty array once all were given; undefined when some of those not given
 * yet may be gone (past the window, another epoch, trimmed meanwhile), so
 * the replay cannot go on without a gap.
 */
export interface HistoryReplay {
  next(): Promise<HistoryEvent[] | undefined>;
}

/** One channel's next page: the events read, checked, and the position the next page starts after. */
export interface ChannelPage {
  events: HistoryEvent[];
  /** The last entry read (checked or not); undefined: none. */
  last?: Offset;
  /** Fewer entries than asked were left: the channel has nothing more. */
  exhausted: boolean;
}

/**
 * Reads the next page of each channel asked, after its own position
 * (undefined: some of them may be gone).
 */
export type PageReader = (
  cursors: readonly { channel: string; after: Offset }[],
  count: number,
) => Promise<ChannelPage[] | undefined>;

/**
 * Merges the pages of several channels into one replay in offset order:
 * each channel is read again only when its buffered events are all given,
 * and only the events no later read can precede are given.
 */
export function pagedReplay(
  channels: readonly string[],
  after: Offset,
  readPages: PageReader,
  pageSize = REPLAY_PAGE_SIZE,
): HistoryReplay {
  const state = channels.map((channel) => ({ channel, after, buffer: [] as HistoryEvent[], exhausted: false }));
  return {
    async next() {
      for (;;) {
        const empty = state.filter((s) => !s.exhausted && s.buffer.length === 0);
        if (empty.length > 0) {
          const pages = await readPages(
            empty.map(({ channel, after: from }) => ({ channel, after: from })),
            pageSize,
          );
          if (!pages) return undefined;
          empty.forEach((s, i) => {
            const page = pages[i]!;
            s.buffer = page.events;
            s.exhausted = page.exhausted;
            if (page.last) s.after = page.last;
          });
        }
        // A channel with more to read may still have events up to its position, none before it.
        const open = state.filter((s) => !s.exhausted);
        const horizon = open.length === 0 ? undefined : open.map((s) => s.after).reduce(earliest);
        const events: HistoryEvent[] = [];
        for (const s of state) {
          let taken = 0;
          while (taken < s.buffer.length && (!horizon || compareOffsets(s.buffer[taken]!.offset, horizon) <= 0))
            taken++;
          events.push(...s.buffer.splice(0, taken));
        }
        if (events.length > 0) return events.sort(byOffset);
        if (open.length === 0) return [];
      }
    },
  };
}

function earliest(a: Offset, b: Offset): Offset {
  return compareOffsets(a, b) <= 0 ? a : b;
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
