import type { Channel } from './channel.js';
import { channelContract, type ChannelKind } from './topics.js';

/** Stops a consumer: it reads nothing more, lets the command in hand finish (and be acknowledged), and releases its connection. */
export type StopConsuming = () => Promise<void>;

/**
 * Handles one command. Resolving acknowledges it; a redelivery (after a
 * consumer died before acknowledging) must be harmless, so a handler is
 * idempotent. A handler that throws is logged, and the command is
 * acknowledged all the same: it was handled, and failed.
 */
export type CommandHandler<Payload> = (payload: Payload) => Promise<void> | void;

/**
 * Where internal commands (work for backend processes: gateway commands,
 * campaign wake-ups) wait for a worker. Unlike {@link EventBus} events, a
 * command recorded while no worker listens is not lost: the next consumer
 * gets it. Each command goes to one consumer of the deployment, at least
 * once (again after a consumer died holding it).
 *
 * Commands are recorded with the write that produces them (`changeEvent`
 * on a command channel: the storage routes it here) or sent with
 * {@link CommandQueue.send}. What a consumer reads is untrusted: checked
 * against the channel's schema, and dropped (logged, counted in the bus's
 * intake) when it does not pass.
 */
export interface CommandQueue {
  readonly kind: 'memory' | 'redis';
  /** Queues a command (for a command not produced by a write). */
  send<Payload>(channel: Channel<Payload>, payload: Payload): Promise<void>;
  /** Starts handling the channel's commands, those waiting first. Resolves once it is reading. */
  consume<Payload>(channel: Channel<Payload>, handler: CommandHandler<Payload>): Promise<StopConsuming>;
  /** Stops every consumer. */
  close(): Promise<void>;
}

/** The kinds of channel that carry commands rather than events. */
const COMMAND_KINDS: ReadonlySet<ChannelKind> = new Set(['gatewayCommands', 'campaignWork']);

/** Whether a channel (as `topics` names it, without the Redis prefix) carries commands: they go to a queue, not to pub/sub. */
export function isCommandChannel(channel: string): boolean {
  const contract = channelContract(channel);
  return contract !== undefined && COMMAND_KINDS.has(contract.kind);
}

/**
 * The Redis Stream that holds a command channel's queue in one scope
 * (`prefix`: the deployment's, for `CommandQueue.send`, or an
 * organisation's, for the commands its writes queue in their own slot).
 */
export function commandStreamKey(prefix: string, channel: string): string {
  return `${prefix}queue:${channel}`;
}

/**
 * The set of organisations (ids) that have a stream of a command channel:
 * deployment-level (`prefix`: the deployment's), read by the consumers to
 * find the streams. An organisation is added before its first command is.
 */
export function commandOrgsKey(prefix: string, channel: string): string {
  return `${prefix}queue-orgs:${channel}`;
}

/**
 * Commands a stream keeps (approximately: trimmed by whole nodes). Far more
 * than workers ever fall behind by; it bounds the stream when no worker
 * runs for a long time (the oldest commands go first).
 */
export const COMMAND_QUEUE_MAX_LENGTH = 10_000;
