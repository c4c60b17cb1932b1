import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { jwtVerify } from 'jose';

/** What the orchestrator hands every peer server through its environment. */
export const env = {
  port: Number(process.env.BENCH_PORT ?? 0),
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.BENCH_PREFIX ?? 'bench:',
  secret: process.env.JWT_SECRET ?? '',
};

const key = new TextEncoder().encode(env.secret);

/** The same check our server makes: an HS256 JWT with `sub` and `org`. */
export async function verify(token: unknown): Promise<{ id: string; orgId: string } | null> {
  if (typeof token !== 'string' || !token) return null;
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp'] });
    if (typeof payload.sub !== 'string' || typeof payload.org !== 'string') return null;
    return { id: payload.sub, orgId: payload.org };
  } catch {
    return null;
  }
}

/** Listens on loopback, prints `ready`, and exits cleanly on SIGTERM (so --cpu-prof is written). */
export function serve(server: Server, close: () => Promise<unknown>) {
  server.listen(env.port, '127.0.0.1', () => process.stdout.write('ready\n'));
  const stop = () => {
    void close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

/** A chat message as the peers store and broadcast it (phase 7). */
export interface ChatMessage {
  id: string;
  roomId: string;
  seq: number;
  senderId: string;
  body: string;
  createdAt: string;
}

/**
 * How every peer stores a sent message before broadcasting it, as a small
 * chat backend on Redis would: the room's sequence, then the message and
 * its place in the room's history in one transaction (two round trips).
 */
export async function storeMessage(redis: Redis, roomId: string, senderId: string, body: string): Promise<ChatMessage> {
  const seq = await redis.incr(`${env.prefix}chat:seq:${roomId}`);
  const message = { id: `${roomId}:${seq}`, roomId, seq, senderId, body, createdAt: new Date().toISOString() };
  await redis
    .multi()
    .set(`${env.prefix}chat:message:${message.id}`, JSON.stringify(message))
    .zadd(`${env.prefix}chat:history:${roomId}`, seq, message.id)
    .exec();
  return message;
}
