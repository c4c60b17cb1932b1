import { CloseCode as ProtocolCloseCode } from 'graphql-ws';

/**
 * Every WebSocket close code this server uses, in one place (documented in
 * the README's Security section). The `graphql-transport-ws` ones come from graphql-ws;
 * a graphql-ws client retries after 1001, 1006, 4403, 4408, 4413 and 4029,
 * and never after 1009, 4400, 4401, 4406, 4409, 4429 or 4500.
 */
export const CloseCode = {
  /** Shutdown: the server is going away; reconnect to another instance. */
  GoingAway: 1001,
  /** The message was not a valid `graphql-transport-ws` message. */
  BadRequest: ProtocolCloseCode.BadRequest,
  /** Missing, invalid or expired token; reconnect with a fresh one. */
  Forbidden: ProtocolCloseCode.Forbidden,
  /** The subprotocol is not `graphql-transport-ws`. */
  SubprotocolNotAcceptable: ProtocolCloseCode.SubprotocolNotAcceptable,
  /** No `connection_init` in time. */
  ConnectionInitialisationTimeout: ProtocolCloseCode.ConnectionInitialisationTimeout,
  /** A subscription id already in use on this socket. */
  SubscriberAlreadyExists: ProtocolCloseCode.SubscriberAlreadyExists,
  /** A second `connection_init`. */
  TooManyInitialisationRequests: ProtocolCloseCode.TooManyInitialisationRequests,
  /** A message larger than WS_MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** A message before the connection was acknowledged. */
  Unauthorized: ProtocolCloseCode.Unauthorized,
  /** The client does not read what it is sent (WS_MAX_BUFFERED_BYTES, SUBSCRIPTION_MAX_QUEUED_EVENTS). */
  SlowConsumer: 4413,
  /** The user already holds MAX_CONNECTIONS_PER_USER connections. */
  TooManyConnections: 4029,
  /** An unexpected failure; details are in the server's log only. */
  InternalServerError: ProtocolCloseCode.InternalServerError,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
