import type { ClientOptions, ConnectionInitMessage } from 'graphql-ws';
import { createResumeTracker, type UnrecoveredSubscription } from './resume-tracker.js';
import { asSocket, watchOutgoing, type Frame } from './socket.js';
import { createTokenRefresher } from './token-refresh.js';

type ConnectionParams = ConnectionInitMessage['payload'];

/** graphql-ws `createClient` options, plus what {@link withResume} adds. */
export interface ResumeClientOptions<P extends ConnectionParams = ConnectionParams> extends ClientOptions<P> {
  /**
   * Called, on a reconnect, with the subscriptions whose missed events the
   * server could not replay (`recovered: false`: past its window, or its
   * history was lost), before any event of the new connection reaches them.
   * They carry on live; refetch what the app shows of them (with Apollo
   * Client, `client.refetchQueries({ include: 'active' })`). Also called
   * with a subscription the server ended with a `RESUME_FAILED` error (its
   * events were gone by the time they were replayed, though the ack said
   * `recovered: true`): that one has ended, so refetch and subscribe again.
   */
  onResumeFailed?: (subscriptions: UnrecoveredSubscription[]) => void;
  /**
   * Returns the current JWT (fetch a fresh one if yours is near expiry).
   * Called on every (re)connect, its token sent as `connectionParams.authorization`
   * (over any your `connectionParams` has), and before that token's `exp`
   * (30 s before, or a tenth of its lifetime for shorter ones), when its
   * answer is sent on the open socket as `refreshConnectionToken`, so the
   * socket and its subscriptions outlive the first token. Return a token
   * that expires later than the current one, or the socket is closed at
   * `exp` and reconnects (and resumes). A `getToken` that throws fails that
   * connection attempt, as a throwing `connectionParams` does; during a
   * refresh, it only skips the refresh. The timing reads this device's
   * clock: one running behind the server's by more than the margin gets the
   * close-and-resume path instead.
   */
  getToken?: () => string | Promise<string>;
}

/**
 * graphql-ws client options that resume after a reconnect: every event a
 * subscription missed while the socket was down is replayed, in order and
 * once, or `onResumeFailed` says it cannot be. Wrap the options you give
 * `createClient`; nothing else changes, so Apollo Client's `GraphQLWsLink`
 * and urql's `subscriptionExchange` get it as they are:
 * `new GraphQLWsLink(createClient(withResume({ url, getToken })))`.
 *
 * It keeps each live subscription's last `extensions.offset`, sends them as
 * `connectionParams.resume.lastSeen` on every connect (merged over your own
 * `connectionParams`, object or function), reads the `connection_ack`'s
 * `resume.recovered`, and calls your `on` listeners as before.
 */
export function withResume<P extends ConnectionParams = ConnectionParams>(
  options: ResumeClientOptions<P>,
): ClientOptions<P> {
  const { onResumeFailed, getToken, connectionParams, on = {}, ...rest } = options;
  const tracker = createResumeTracker(onResumeFailed);
  const tokens = getToken ? createTokenRefresher(getToken) : undefined;
  let sendOwn: ((frame: Frame) => void) | undefined;
  let acknowledged = false;

  return {
    ...rest,
    connectionParams: async () => {
      const own = typeof connectionParams === 'function' ? await connectionParams() : connectionParams;
      const token = tokens && (await tokens.connectionToken());
      const resume = tracker.resumeParams();
      if (token === undefined && !resume) return own as P;
      return {
        ...own,
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...(resume && { resume }),
      } as P;
    },
    on: {
      ...on,
      opened: (socket) => {
        const ws = asSocket(socket);
        sendOwn = ws && watchOutgoing(ws, (frame) => tracker.sent(frame));
        on.opened?.(socket);
      },
      connected: (socket, payload, wasRetry) => {
        acknowledged = true;
        tracker.acknowledged(payload);
        const ws = asSocket(socket);
        if (ws && sendOwn) tokens?.connected(ws, sendOwn);
        on.connected?.(socket, payload, wasRetry);
      },
      message: (message) => {
        const frame = message as unknown as Frame;
        tracker.received(frame);
        tokens?.received(frame);
        on.message?.(message);
      },
      closed: (event) => {
        tracker.closed(acknowledged);
        tokens?.closed();
        acknowledged = false;
        sendOwn = undefined;
        on.closed?.(event);
      },
    },
  };
}
