/**
 * WebSocket framing (RFC 6455) of the shared fan-out's messages, made once
 * in one buffer so that a delivery is one write of ready bytes (see
 * `RawSocket.sendRaw` in ./ws-socket.ts). Server frames are unmasked and
 * this server negotiates no compression.
 */

/**
 * `head + body + tail` as one unfragmented text frame: the header and the
 * message in one buffer (copies, no serialisation, no UTF-8 encoding).
 */
export function textFrame(head: Buffer, body: Buffer, tail: Buffer): Buffer {
  const length = head.length + body.length + tail.length;
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
  return frame;
}
