/**
 * The floor: plain `ws`. One Redis subscription per room; each Redis
 * message becomes one pre-serialised frame written to every member.
 * Phase 7: a connection without a room sends `{"ref","room","body"}`; the
 * message is stored (./common.ts), published on the room's channel, and
 * acknowledged with `{"ref","id"}`.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';
import { env, serve, storeMessage, verify } from './common.js';

const channelPrefix = `${env.prefix}room:`;
const rooms = new Map<string, Set<WebSocket>>();
const subscriber = new Redis(env.redisUrl);
const store = new Redis(env.redisUrl);

subscriber.on('message', (channel: string, message: string) => {
  const members = rooms.get(channel.slice(channelPrefix.length));
  if (!members) return;
  const frame = Buffer.from(message);
  for (const socket of members) socket.send(frame, { binary: false });
});

const server = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://localhost');
  const room = url.searchParams.get('room');
  void verify(url.searchParams.get('token')).then(async (user) => {
    if (!user) return void socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    if (!room) {
      return void wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data: Buffer) => {
          const { ref, room: to, body } = JSON.parse(data.toString()) as { ref: number; room: string; body: string };
          void storeMessage(store, to, user.id, body).then(async (stored) => {
            await store.publish(channelPrefix + to, JSON.stringify(stored));
            ws.send(JSON.stringify({ ref, id: stored.id }));
          });
        });
      });
    }
    let members = rooms.get(room);
    if (!members) {
      rooms.set(room, (members = new Set()));
      await subscriber.subscribe(channelPrefix + room);
    }
    const joined = members;
    wss.handleUpgrade(req, socket, head, (ws) => {
      joined.add(ws);
      ws.on('close', () => joined.delete(ws));
    });
  });
});

serve(server, async () => {
  for (const client of wss.clients) client.terminate();
  subscriber.disconnect();
  store.disconnect();
});
