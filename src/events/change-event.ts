import type { ChangeEvent } from '../storage/storage.js';
import type { Channel } from './channel.js';
import type { KeySpace } from '../lib/keys.js';
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
 * How an event travels over Redis: the channel (with its key prefix, its
 * organisation's for an `org:` channel, see `KeySpace`) and the message (the format of graphql-redis-subscriptions:
 * JSON; with resume on, RECORD_EVENTS wraps it with its offset). The event
 * recorder (./record-redis.ts) makes every script's arguments with it, for
 * the Redis bus's publishes and the Redis storage's writes alike, so
 * subscribers cannot tell the two apart. A command (an event on a command
 * channel, see `isCommandChannel`) names the stream it is queued on
 * instead: `queue`, the stream of the organisation `orgId` the write is
 * scoped to (in its slot), or the deployment's as `CommandQueue.send`
 * would append it.
 */
export function redisEventWire(keys: KeySpace) {
  return (event: ChangeEvent, orgId?: string) => ({
    channel: keys.ofChannel(event.channel) + event.channel,
    message: JSON.stringify(event.payload),
    queue: isCommandChannel(event.channel)
      ? commandStreamKey(orgId === undefined ? keys.deployment : keys.org(orgId), event.channel)
      : undefined,
  });
}
