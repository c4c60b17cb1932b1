/**
 * Socket.IO 4 with @socket.io/redis-adapter: a room per conversation.
 * Workers publish with @socket.io/redis-emitter; the adapter encodes each
 * broadcast once and writes it to every member of the room. Phase 7's
 * `send` event stores the message (./common.ts) and broadcasts it likewise.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { env, serve, storeMessage, verify } from './common.js';

const publisher = new Redis(env.redisUrl);
const subscriber = publisher.duplicate();
const server = createServer();
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  adapter: createAdapter(publisher, subscriber, { key: `${env.prefix}socket.io` }),
});

io.use((socket, next) => {
  void verify(socket.handshake.auth?.token).then((user) => {
    if (!user) return next(new Error('unauthorized'));
    socket.data.user = user;
    next();
  });
});

io.on('connection', (socket) => {
  socket.on('join', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') void socket.join(`conv:${room}`);
    if (typeof ack === 'function') ack(true);
  });
  // Phase 7: store, broadcast to the room (through the adapter, so every instance's members get it), acknowledge.
  socket.on('send', (message: { room?: unknown; body?: unknown }, ack: unknown) => {
    if (typeof message?.room !== 'string' || typeof message.body !== 'string' || typeof ack !== 'function') return;
    void storeMessage(publisher, message.room, socket.data.user.id, message.body).then((stored) => {
      io.to(`conv:${stored.roomId}`).emit('event', stored);
      ack(stored.id);
    });
  });
});

serve(server, async () => {
  io.disconnectSockets(true);
  await io.close();
  publisher.disconnect();
  subscriber.disconnect();
});
