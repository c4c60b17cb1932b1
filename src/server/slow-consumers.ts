import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { Limits } from '../config.js';
import type { Logger } from '../logger.js';
import type { StatusCounters } from '../status/counters.js';
import { CloseCode } from './close-codes.js';
import { closeSocket } from './graphql-ws-adapter.js';
import type { Schedule, Scheduled } from './schedule.js';

/**
 * The slow-consumer policy, in one place: when a client that does not read
 * what it is sent is cut off, how, and where it is counted. Used by the
 * WebSocket adapter (every graphql-ws send), the shared fan-out (its
 * frames, and when it stops pulling events) and SSE.
 *
 * A client is slow when
 * - a WebSocket stays above `WS_MAX_BUFFERED_BYTES` queued for
 *   `WS_SLOW_CONSUMER_GRACE_MS` (checked after every write, the grace on the
 *   instance's shared schedule): closed 4413;
 * - one of its subscriptions' event queues overflows
 *   (`SUBSCRIPTION_MAX_QUEUED_EVENTS`, `SLOW_CONSUMER` from src/events):
 *   a WebSocket is closed 4413, an SSE stream dropped.
 * Each cut-off is logged and counted once per connection (status page per
 * organisation, `/metrics` per transport), however many ways it was found.
 */
export interface SlowConsumerPolicy {
  /**
   * Bytes queued on a socket past which the shared fan-out waits for that
   * write to drain before pulling the subscriber's next event (so its
   * bounded queue fills instead of the socket's buffer).
   */
  readonly drainAboveBytes: number;
  /** Drops an SSE stream whose subscription's queue overflowed, counted for `orgId`. */
  cutOffStream(res: ServerResponse, orgId: string): void;
  /** The WebSocket side, on the transport's shared schedule; `orgOf` names an authenticated socket's organisation. */
  forWebSockets(options: {
    schedule: Schedule;
    orgOf: (socket: WebSocket) => string | undefined;
  }): WebSocketSlowConsumers;
}

/** The WebSocket side of {@link SlowConsumerPolicy}. */
export interface WebSocketSlowConsumers {
  /** After every write to a socket: starts its grace above the bound, cancels it below. */
  checkBuffer(watched: BufferWatched): void;
  /** When a socket closes: its grace, if any, is cancelled. */
  stopWatching(watched: BufferWatched): void;
  /** Closes a socket 4413 (its close frame queued behind what it has not read; dropped a second later), counted once. */
  cutOff(socket: WebSocket): void;
}

/** What the policy keeps on the adapter's own per-socket record: no object of its own per socket. */
export interface BufferWatched {
  readonly socket: WebSocket;
  /** Set while the socket is above the bound: when its grace ends. */
  slowSince: Scheduled | undefined;
}

/** Default of {@link SlowConsumerPolicy.drainAboveBytes}. */
export const DEFAULT_DRAIN_ABOVE_BYTES = 1024 * 1024;

export function createSlowConsumerPolicy(options: {
  limits: Pick<Limits, 'wsMaxBufferedBytes' | 'wsSlowConsumerGraceMs'>;
  counters: Pick<StatusCounters, 'slowConsumer'>;
  logger: Logger;
  drainAboveBytes?: number;
}): SlowConsumerPolicy {
  const { limits, counters, logger, drainAboveBytes = DEFAULT_DRAIN_ABOVE_BYTES } = options;
  const maxBufferedBytes = limits.wsMaxBufferedBytes;
  const graceMs = limits.wsSlowConsumerGraceMs;
  return {
    drainAboveBytes,
    cutOffStream(res, orgId) {
      if (res.destroyed) return;
      counters.slowConsumer('sse', orgId);
      logger.info('event stream cut off: slow consumer');
      res.destroy();
    },
    forWebSockets({ schedule, orgOf }) {
      const cutOff = (socket: WebSocket) => {
        // Once per socket: a close already under way (by any cause) is not counted again.
        if (socket.readyState !== socket.OPEN) return;
        counters.slowConsumer('websocket', orgOf(socket));
        logger.info({ buffered: socket.bufferedAmount }, 'websocket cut off: slow consumer');
        closeSocket(socket, CloseCode.SlowConsumer, 'Slow consumer');
      };
      const graceOver = (watched: BufferWatched) => {
        watched.slowSince = undefined;
        if (watched.socket.bufferedAmount > maxBufferedBytes) cutOff(watched.socket);
      };
      return {
        checkBuffer(watched) {
          const { socket } = watched;
          if (socket.bufferedAmount <= maxBufferedBytes) {
            schedule.cancel(watched.slowSince);
            watched.slowSince = undefined;
          } else if (!watched.slowSince && socket.readyState === socket.OPEN) {
            watched.slowSince = schedule.at(Date.now() + graceMs, graceOver, watched);
          }
        },
        stopWatching(watched) {
          schedule.cancel(watched.slowSince);
          watched.slowSince = undefined;
        },
        cutOff,
      };
    },
  };
}
