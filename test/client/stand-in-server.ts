import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, parse } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { decodeJwt } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';
import { dispose } from '../support/harness.js';

/**
 * A graphql-ws server that speaks the contract's resume and token-refresh
 * wire (nothing else of ours): `ticks` events carry `extensions.offset`, a
 * connection_init's `resume.lastSeen` is answered in the ack and replayed on
 * resubscription (or refused with `RESUME_FAILED` when forgotten after the ack), a socket is closed 4403 at its token's `exp`, and
 * `refreshConnectionToken` moves that. For the client helper's own tests.
 */
export interface StandIn {
  url: string;
  /** Every connection_init payload received, in order. */
  inits: Record<string, unknown>[];
  /** Tokens accepted by `refreshConnectionToken`, with the connection (1-based) they came on. */
  refreshes: { token: string; connection: number }[];
  /** Connections opened so far. */
  connections(): number;
  /** Appends an event (offsets count from 1). */
  publish(value: string): void;
  /** Events up to this offset are no longer kept: resuming from before it answers `recovered: false`. */
  forgetUpTo(offset: number): void;
  /** Drops every socket without a close frame, as a lost network does. */
  dropAll(): void;
  /** Answer acks without `resume` (a server with resume turned off or unaware of it). */
  resumeOff: boolean;
  /** Refuse `refreshConnectionToken` (FORBIDDEN). */
  refuseRefresh: boolean;
}

const typeDefs = /* GraphQL */ `
  type Query {
    ok: Boolean
  }
  type Mutation {
    refreshConnectionToken(token: String!): String!
  }
  type Subscription {
    "Every published event; with take, the first take of them, then complete."
    ticks(take: Int): String!
  }
`;

interface Operation {
  from: number;
  /** Resumed from an offset no longer kept: the subscription fails as the real server's does. */
  forgotten: boolean;
  offsets: string[];
  connection: Connection;
}

interface Connection {
  number: number;
  socket: WebSocket;
  lastSeen: Record<string, string>;
  recovered: Record<string, boolean>;
  expiry?: ReturnType<typeof setTimeout>;
}

/** Starts a stand-in on a port of its own, closed after the test. */
export async function startStandIn(): Promise<StandIn> {
  const history: string[] = [];
  const waiters = new Set<() => void>();
  let keptFrom = 1;
  let opened = 0;
  const connections = new WeakMap<object, Connection>();

  const closeAtExpiry = (connection: Connection, token: unknown) => {
    clearTimeout(connection.expiry);
    let exp: number | undefined;
    try {
      exp = typeof token === 'string' ? decodeJwt(token).exp : undefined;
    } catch {
      return; // Not a JWT: the stand-in lets it be.
    }
    if (exp === undefined) return;
    connection.expiry = setTimeout(() => connection.socket.close(4403, 'Forbidden'), exp * 1000 - Date.now());
  };

  const ticks = (operation: Operation, take: number | null | undefined) => {
    let position = operation.from;
    let delivered = 0;
    let done = false;
    let wake = () => {};
    const iterator: AsyncIterableIterator<{ ticks: string }> = {
      [Symbol.asyncIterator]: () => iterator,
      async next() {
        while (!done && (take == null || delivered < take) && position >= history.length) {
          await new Promise<void>((resolve) => waiters.add((wake = resolve)));
        }
        if (done || (take != null && delivered >= take)) return { done: true, value: undefined };
        position += 1;
        delivered += 1;
        operation.offsets.push(String(position));
        return { done: false, value: { ticks: history[position - 1]! } };
      },
      async return() {
        done = true;
        waiters.delete(wake);
        wake();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  };

  const standIn: StandIn = {
    url: '',
    inits: [],
    refreshes: [],
    connections: () => opened,
    publish(value) {
      history.push(value);
      for (const wake of waiters) wake();
      waiters.clear();
    },
    forgetUpTo(offset) {
      keptFrom = offset + 1;
    },
    dropAll() {
      for (const socket of wss.clients) socket.terminate();
    },
    resumeOff: false,
    refuseRefresh: false,
  };

  const schema = makeExecutableSchema({
    typeDefs,
    resolvers: {
      Mutation: {
        refreshConnectionToken: (_: unknown, { token }: { token: string }, operation: Operation) => {
          if (standIn.refuseRefresh) throw new GraphQLError('Forbidden', { extensions: { code: 'FORBIDDEN' } });
          standIn.refreshes.push({ token, connection: operation.connection.number });
          closeAtExpiry(operation.connection, token);
          return new Date(decodeJwt(token).exp! * 1000).toISOString();
        },
      },
      Subscription: {
        ticks: {
          subscribe: (_: unknown, { take }: { take?: number | null }, operation: Operation) => {
            if (operation.forgotten) {
              throw new GraphQLError('Missed events no longer kept', { extensions: { code: 'RESUME_FAILED' } });
            }
            return ticks(operation, take);
          },
        },
      },
    },
  });

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', () => (opened += 1));
  const server = useServer(
    {
      schema,
      onConnect: (ctx) => {
        const params = ctx.connectionParams ?? {};
        standIn.inits.push(params);
        const resume = params.resume as { lastSeen?: Record<string, string> } | undefined;
        const lastSeen = resume?.lastSeen ?? {};
        const recovered = Object.fromEntries(
          Object.entries(lastSeen).map(([id, offset]) => [id, Number(offset) + 1 >= keptFrom]),
        );
        const connection: Connection = { number: opened, socket: ctx.extra.socket, lastSeen, recovered };
        connections.set(ctx.extra, connection);
        ctx.extra.socket.once('close', () => clearTimeout(connection.expiry));
        const authorization = typeof params.authorization === 'string' ? params.authorization : undefined;
        closeAtExpiry(connection, authorization?.replace(/^Bearer /, ''));
        return standIn.resumeOff || Object.keys(lastSeen).length === 0 ? true : { resume: { recovered } };
      },
      onSubscribe: (ctx, id, payload) => {
        const connection = connections.get(ctx.extra)!;
        // Acked recovered, forgotten since: the contract's RESUME_FAILED rather than a gap.
        const forgotten = Boolean(connection.recovered[id]) && Number(connection.lastSeen[id]) + 1 < keptFrom;
        const resumed = connection.recovered[id] ? Number(connection.lastSeen[id]) : history.length;
        return {
          schema,
          document: parse(payload.query),
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: { from: resumed, offsets: [], connection, forgotten } satisfies Operation,
        };
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        const offset = (args.contextValue as Operation).offsets.shift();
        return offset === undefined ? result : { ...result, extensions: { ...result.extensions, offset } };
      },
    },
    wss,
  );
  const address = wss.address();
  standIn.url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  dispose(async () => {
    for (const socket of wss.clients) socket.terminate();
    await server.dispose();
  });
  return standIn;
}
