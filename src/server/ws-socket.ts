import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * What a sender outside graphql-ws (the shared fan-out, ./fanout.ts) may do
 * with one socket: write frames it made itself, and ask how much is queued
 * (its backpressure). Made by the WebSocket adapter for each socket; this
 * module is the only one that knows `ws`' internals.
 */
export interface RawSocket {
  /** True while the socket takes messages. */
  readonly open: boolean;
  /** Bytes queued on the socket and not yet handed to the system. */
  readonly bufferedAmount: number;
  /**
   * Writes one complete, unmasked WebSocket frame (header included, see
   * `textFrame` in ./raw-frames.ts) as it is: no copy, no re-framing. Frames
   * sent to a socket within one tick leave in one system call. `done` is
   * called once the data is written (with an error if the socket closed
   * first).
   */
  sendRaw(frame: Buffer, done?: (error?: Error) => void): void;
}

/**
 * A {@link RawSocket} for a `ws` socket; `afterSend` (a subclass' method:
 * the slow-consumer watch) runs after each frame. The frame goes to ws'
 * sender as a ready frame (`sendFrame`: what Socket.IO's engine does with
 * its pre-encoded broadcast frames), queued behind whatever ws is still
 * writing; a `ws` without it gets the frame's payload through `send()`,
 * framed again by ws. A class, so a socket's adapter state is one object
 * with its methods on the prototype, not closures per socket.
 */
export class WsSocket implements RawSocket {
  constructor(readonly socket: WebSocket) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  sendRaw(frame: Buffer, done?: (error?: Error) => void): void {
    const { socket } = this;
    batchWrites(socket);
    const sender = (socket as unknown as { _sender?: Partial<FrameSender> })._sender;
    if (typeof sender?.sendFrame === 'function') sender.sendFrame([frame], done);
    else socket.send(frame.subarray(headerLength(frame)), { binary: (frame[0]! & 0x0f) === 2 }, done);
    this.afterSend();
  }

  /** After each frame written (subclasses: the slow-consumer watch). */
  protected afterSend(): void {}
}

interface FrameSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}

/** The header's length of an unmasked frame: 2 bytes, plus 2 or 8 for a 16- or 64-bit length. */
function headerLength(frame: Buffer): number {
  const length = frame[1]! & 0x7f;
  return length < 126 ? 2 : length === 126 ? 4 : 10;
}

/**
 * Batches a burst: the first frame a socket gets in a tick is written at
 * once (a single event reaches every subscriber as soon as its turn comes);
 * from the second frame on in the same tick the socket is corked, and what
 * piles up (several events of a Redis burst, several operations) leaves in
 * one `writev` at the end of the tick rather than one system call per frame
 * — what Engine.IO achieves by queueing while a send is in flight.
 */
const WRITTEN_IN_TICK = Symbol('ws-socket.tick');
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
