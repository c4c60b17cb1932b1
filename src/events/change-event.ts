import type { ChangeEvent } from '../storage/storage.js';
import type { Channel } from './channel.js';
import { commandStreamKey, isCommandChannel } from './commands.js';

/**
 * An event to record together with a write (see `Collection.insert`,
 * `update`, `remove`): the channel's type checks the payload, as for
 * `EventBus.publish`.
 */
export function changeEvent<Payload>(channel: Channel<Payload>, payload: Payload): ChangeEvent {
  return { channel, payload };
}

/**
 * How an event travels over Redis: the channel (with the deployment's key
 * prefix) and the message (the format of graphql-redis-subscriptions:
 * JSON; with resume on, RECORD_EVENTS wraps it with its offset). The event
 * recorder (./record-redis.ts) makes every script's arguments with it, for
 * the Redis bus's publishes and the Redis storage's writes alike, so
 * subscribers cannot tell the two apart. A command (an event on a command
 * channel, see `isCommandChannel`) names the stream it is queued on
 * instead: `queue`, as `CommandQueue.send` would append it.
 */
export function redisEventWire(prefix: string) {
  return (event: ChangeEvent) => ({
    channel: prefix + event.channel,
    message: JSON.stringify(event.payload),
    queue: isCommandChannel(event.channel) ? commandStreamKey(prefix, event.channel) : undefined,
  });
}
