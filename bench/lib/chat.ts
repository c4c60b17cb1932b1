import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { clock } from './clock.js';
import { postGraphql } from './graphql-http.js';
import { Histogram } from './histogram.js';
import type { BenchEvent } from './payload.js';
import type { ClientTarget } from './protocol.js';
import type { Instance, Publisher, RunContext, TargetName } from './targets.js';

/** Sends in flight at once from the one sender (phase 7). */
export const SEND_CONCURRENCY = 4;

/** A way to send a chat message through a system's own API; resolves once the system has stored it. */
interface Sender {
  send(body: string): Promise<void>;
  close(): void;
}

/** The room of phase 7, how its members subscribe, and a {@link Publisher} that sends through the system's API. */
export interface Chat {
  room: string;
  client: ClientTarget;
  publisher: Publisher;
  /** Round-trip time of each send (ms), from the sender's side, since the last reset. */
  latency(): Histogram;
  resetLatency(): void;
}

const OURS_SUBSCRIPTION = `subscription Chat($sessionId: ID!) {
  conversationEvents(conversationId: $sessionId) {
    __typename
    ... on MessageAdded { message { id body senderId createdAt } }
  }
}`;

const PEER_SUBSCRIPTION = `subscription Chat($sessionId: ID!) {
  messageAdded(roomId: $sessionId) { id body senderId createdAt }
}`;

/** The users of the room: `bench-user-<i>`, as the client workers sign them; user 0 sends. */
const memberId = (i: number) => `bench-user-${i}`;

function signer(ctx: RunContext) {
  const key = new TextEncoder().encode(ctx.secret);
  return (sub: string) =>
    new SignJWT({ org: ctx.org, roles: ['agent'], name: sub })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime('3h')
      .sign(key);
}

/** A WebSocket sender that writes `frame(ref)` and waits for the reply `ackOf` finds for it. */
async function socketSender(
  url: string,
  /** Answers the protocol's own messages (true when `text` was one); `ready` once it may send. */
  handshake: ((ws: WebSocket, text: string, ready: () => void) => boolean) | 'ready-on-open',
  frame: (ref: number, body: string) => string,
  ackOf: (text: string) => number | undefined,
): Promise<Sender> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const pending = new Map<number, () => void>();
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    if (handshake === 'ready-on-open') ws.once('open', () => resolve());
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (handshake !== 'ready-on-open' && handshake(ws, text, resolve)) return;
      const ref = ackOf(text);
      if (ref === undefined) return;
      pending.get(ref)?.();
      pending.delete(ref);
    });
  });
  let next = 0;
  return {
    send: (body) =>
      new Promise<void>((resolve) => {
        const ref = next++;
        pending.set(ref, resolve);
        ws.send(frame(ref, body));
      }),
    close: () => ws.terminate(),
  };
}

/**
 * Sets up phase 7 for one system: a room of `members` members (ours: a
 * conversation created over the API; the peers: a room name, their
 * members unchecked), subscribers of the room spread over those members,
 * and a sender (member 0) using the system's own send API: ours and the
 * plain GraphQL stack a `sendMessage` mutation over HTTP, Socket.IO an
 * acknowledged `send` event, plain ws a message on the sender's socket.
 * Each system stores the message in Redis before broadcasting it.
 */
export async function setUpChat(name: TargetName, ctx: RunContext, instance: Instance, members: number): Promise<Chat> {
  const sign = signer(ctx);
  const token = await sign(memberId(0));
  const wsBase = instance.httpUrl.replace('http', 'ws');
  let room: string;
  let client: ClientTarget;
  let sender: Sender;
  const base = { secret: ctx.secret, org: ctx.org, users: members };
  if (name.startsWith('ours')) {
    const graphqlUrl = `${instance.httpUrl}/graphql`;
    const created = await postGraphql(
      graphqlUrl,
      token,
      'mutation ($m: [ID!]!) { createConversation(memberIds: $m) { id } }',
      {
        m: Array.from({ length: members - 1 }, (_, i) => memberId(i + 1)),
      },
    );
    room = created.createConversation!.id;
    client = {
      ...base,
      kind: 'graphql-transport-ws',
      urls: [`${wsBase}/graphql`],
      topics: [room],
      query: OURS_SUBSCRIPTION,
    };
    const SEND = 'mutation ($id: ID!, $b: String!) { sendMessage(conversationId: $id, body: $b) { id } }';
    sender = {
      send: async (body) => void (await postGraphql(graphqlUrl, token, SEND, { id: room, b: body })),
      close() {},
    };
  } else if (name === 'graphql') {
    room = 'bench-chat-room';
    client = {
      ...base,
      kind: 'graphql-transport-ws',
      urls: [`${wsBase}/graphql`],
      topics: [room],
      query: PEER_SUBSCRIPTION,
    };
    const SEND = 'mutation ($r: ID!, $b: String!) { sendMessage(roomId: $r, body: $b) { id } }';
    const url = `${instance.httpUrl}/graphql`;
    sender = { send: async (body) => void (await postGraphql(url, token, SEND, { r: room, b: body })), close() {} };
  } else if (name === 'socketio') {
    room = 'bench-chat-room';
    client = { ...base, kind: 'socket.io', urls: [wsBase], topics: [room] };
    sender = await socketSender(
      `${wsBase}/socket.io/?EIO=4&transport=websocket`,
      (ws, text, ready) => {
        if (text === '2') ws.send('3');
        else if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
        else if (text.startsWith('40')) ready();
        else return false;
        return true;
      },
      (ref, body) => `42${ref}${JSON.stringify(['send', { room, body }])}`,
      (text) => (text.startsWith('43') ? Number.parseInt(text.slice(2), 10) : undefined),
    );
  } else if (name === 'ws') {
    room = 'bench-chat-room';
    client = { ...base, kind: 'ws', urls: [wsBase], topics: [room] };
    sender = await socketSender(
      `${wsBase}/?token=${encodeURIComponent(token)}`,
      'ready-on-open',
      (ref, body) => JSON.stringify({ ref, room, body }),
      (text) => (JSON.parse(text) as { ref?: number }).ref,
    );
  } else {
    throw new Error(`phase 7 has no chat for ${name}`);
  }

  let latency = new Histogram();
  const publisher: Publisher = {
    async publish(events: BenchEvent[]) {
      let next = 0;
      const lane = async () => {
        while (next < events.length) {
          const event = events[next++]!;
          const started = clock();
          await sender.send(event.qrCode);
          latency.record(clock() - started);
        }
      };
      await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, events.length) }, lane));
    },
    async close() {
      sender.close();
    },
  };
  return { room, client, publisher, latency: () => latency, resetLatency: () => void (latency = new Histogram()) };
}
