import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * An event's position, as clients see it: `<epoch>.<ms>-<seq>`. The id
 * (`<ms>-<seq>`) comes from one clock per organisation, so the events of
 * all the channels a subscription listens on (all in one organisation) are
 * ordered by it; the epoch names the history it belongs to and changes when
 * that history was lost (Redis lost its data, an embedded server restarted).
 * Clients treat it as opaque.
 */
export interface Offset {
  epoch: string;
  ms: number;
  seq: number;
}

/** What an offset looks like on the wire; anything else is junk from a client. */
const OFFSET_PATTERN = /^([A-Za-z0-9_-]{1,32})\.(\d{1,15})-(\d{1,15})$/;

/** What an epoch looks like (as in {@link OFFSET_PATTERN}). */
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** `text` when it is a well-formed epoch (it becomes part of offsets sent to clients), else undefined. */
export function parseEpoch(text: unknown): string | undefined {
  return typeof text === 'string' && EPOCH_PATTERN.test(text) ? text : undefined;
}

/** Longest offset accepted from a client or a message. */
export const MAX_OFFSET_LENGTH = 64;

/** The offset in `text`, or undefined when it is not one (whatever it came from). */
export function parseOffset(text: unknown): Offset | undefined {
  if (typeof text !== 'string' || text.length > MAX_OFFSET_LENGTH) return undefined;
  const match = OFFSET_PATTERN.exec(text);
  if (!match) return undefined;
  return { epoch: match[1]!, ms: Number(match[2]), seq: Number(match[3]) };
}

/** The wire form of an offset. */
export function formatOffset(offset: Offset): string {
  return `${offset.epoch}.${offset.ms}-${offset.seq}`;
}

/** Negative, zero or positive as `a` comes before, with or after `b` (same epoch assumed). */
export function compareOffsets(a: Pick<Offset, 'ms' | 'seq'>, b: Pick<Offset, 'ms' | 'seq'>): number {
  return a.ms - b.ms || a.seq - b.seq;
}

/** Offsets of the event objects a bus delivered or replayed, as sent and parsed: the fan-out and SSE read them back. */
const offsets = new WeakMap<object, { text: string; at: Offset }>();

/** Records that `event` (an object a bus hands to listeners) is at `offset`; a malformed offset is not recorded. */
export function tagOffset(event: unknown, offset: string, at = parseOffset(offset)): void {
  if (typeof event === 'object' && event !== null && at) offsets.set(event, { text: offset, at });
}

/** The offset a bus gave `event`, if any (none while resume is off). */
export function offsetOf(event: unknown): string | undefined {
  return typeof event === 'object' && event !== null ? offsets.get(event)?.text : undefined;
}

/** The same, parsed: where `event` stands among the events of its organisation. */
export function positionOf(event: unknown): Offset | undefined {
  return typeof event === 'object' && event !== null ? offsets.get(event)?.at : undefined;
}

const resumePoints = new AsyncLocalStorage<Offset | undefined>();

/**
 * Runs `operation` so that the subscription it makes first replays the
 * events after `after` (the transport's resume point: a WebSocket client's
 * `lastSeen`, an SSE `Last-Event-ID`), then goes live.
 */
export function withResumePoint<T>(after: Offset | undefined, operation: () => T): T {
  return after ? resumePoints.run(after, operation) : operation();
}

/** The resume point of the operation making a subscription, if any. */
export function currentResumePoint(): Offset | undefined {
  return resumePoints.getStore();
}
