import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * How a sender outside graphql-ws (the shared fan-out, ./fanout.ts) writes
 * ready-made messages to one socket. The WebSocket adapter gives one per
 * socket; only the adapter's files know `ws`.
 */
export interface RawFrames {
  /** True while the socket takes messages. */
  readonly open: boolean;
  /** Bytes queued on the socket and not yet handed to the system. */
  readonly bufferedAmount: number;
  /**
   * Sends `head`, `body` and `tail` as one text message, written as a single
   * ready frame; frames sent to a socket within one tick leave in one system
   * call (see {@link batchWrites}). `done` is called once the data is written
   * (with an error if the socket closed first).
   */
  send(head: Buffer, body: Buffer, tail: Buffer, done?: (error?: Error) => void): void;
}

/** A {@link RawFrames} for a `ws` socket; `afterSend` runs after each message (the slow-consumer watch). */
export function rawFrames(socket: WebSocket, afterSend: () => void): RawFrames {
  return {
    get open() {
      return socket.readyState === socket.OPEN;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send(head, body, tail, done) {
      batchWrites(socket);
      writeFrame(socket, head, body, tail, done);
      afterSend();
    },
  };
}

interface FrameSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}

/** graphql-transport-ws messages are text frames. */
const TEXT = { binary: false } as const;

/**
 * Writes `head + body + tail` as one WebSocket text frame: header and
 * message built in one buffer (two copies, no re-encoding) and handed to
 * ws' sender as a ready frame, one write, as Socket.IO's engine does with
 * its pre-encoded broadcast frames. Server frames are unmasked and this
 * server negotiates no compression; when the sender has no `sendFrame`,
 * `send()` frames the same bytes.
 */
function writeFrame(socket: WebSocket, head: Buffer, body: Buffer, tail: Buffer, cb?: (error?: Error) => void) {
  const length = head.length + body.length + tail.length;
  const sender = (socket as unknown as { _sender?: Partial<FrameSender> })._sender;
  if (typeof sender?.sendFrame !== 'function') {
    socket.send(Buffer.concat([head, body, tail], length), TEXT, cb);
    return;
  }
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN, text
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  head.copy(frame, header);
  body.copy(frame, header + head.length);
  tail.copy(frame, header + head.length + body.length);
  sender.sendFrame([frame], cb);
}

/**
 * Batches a burst: the first frame a socket gets in a tick is written at
 * once (a single event reaches every subscriber as soon as its turn comes);
 * from the second frame on in the same tick the socket is corked, and what
 * piles up (several events of a Redis burst, several operations) leaves in
 * one `writev` at the end of the tick rather than one system call per frame
 * — what Engine.IO achieves by queueing while a send is in flight.
 */
const WRITTEN_IN_TICK = Symbol('raw-frames.tick');
type Stamped = Duplex & { [WRITTEN_IN_TICK]?: number };
let tick = 0;
let tickEnding = false;
const corked: Duplex[] = [];

function batchWrites(socket: WebSocket) {
  const raw = (socket as unknown as { _socket?: Stamped })._socket;
  if (!raw || raw.destroyed) return;
  if (!tickEnding) {
    tickEnding = true;
    process.nextTick(endTick);
  }
  if (raw[WRITTEN_IN_TICK] !== tick) {
    raw[WRITTEN_IN_TICK] = tick;
  } else if (raw.writableCorked === 0) {
    raw.cork();
    corked.push(raw);
  }
}

function endTick() {
  tickEnding = false;
  tick++;
  for (const raw of corked) raw.uncork();
  corked.length = 0;
}
