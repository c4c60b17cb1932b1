import { GraphQLError, type GraphQLSchema } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Registration } from '../admin/registry.js';
import type { Viewer } from '../auth/viewer.js';
import type { Config } from '../config.js';
import type { GraphQLContext } from '../context.js';
import type { AccessSignal } from '../lib/access-signal.js';
import { ErrorCode, isGraphQLError, unauthenticated, unavailable } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ServerServices } from '../services.js';
import type { Storage } from '../storage/index.js';
import type { ConnectionSlots } from './connection-slots.js';
import { createDocumentCaches } from './document-cache.js';
import { useSharedSubscriptions, withSharedDeliveryHooks } from './fanout.js';
import { countSubscription, type LiveCounts } from './metrics.js';
import { useStreamPresence } from './plugins/use-stream-presence.js';
import { releaseWhenGone } from './request-lifetime.js';
import { countsAsDelivery } from '../status/counters.js';
import { rootFieldOf } from './root-field.js';
import type { SlowConsumerPolicy } from './slow-consumers.js';
import { useIntrospectionPolicy } from './plugins/use-introspection-policy.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useRateLimit } from './plugins/use-rate-limit.js';
import { useResumableStreams } from './plugins/use-resumable-streams.js';
import { useRequestErrorCodes } from './plugins/use-request-error-codes.js';
import { useStreamSlots } from './plugins/use-stream-slots.js';
import { useWriteOutcomes } from './plugins/use-write-outcomes.js';
import { isRedisOutage } from '../storage/write-outcome.js';

/**
 * What a transport hands to the pipeline besides the request: the viewer
 * it has verified (the WebSocket adapter at `connection_init`, HTTP from
 * the `Authorization` header before the body is read) and the signal that
 * aborts when the connection goes. No document is parsed without a viewer.
 */
export interface TransportContext {
  viewer?: Viewer;
  signal?: AbortSignal;
  /** The upgrade request of a WebSocket operation (not `request`: yoga's HTTP-only checks look at that). */
  req?: unknown;
  /** Set by the WebSocket adapter, whose socket (not each operation) holds a connection slot. */
  transport?: 'websocket';
  /** A WebSocket's: aborts when its token's operations end (./socket-token.ts); absent on HTTP and SSE. */
  operations?: AccessSignal;
  /** The WebSocket's own token refresh (./socket-token.ts); absent on HTTP and SSE. */
  refreshToken?: GraphQLContext['refreshToken'];
  /** An SSE stream's entry in the admin API's registry: its live subscriptions are counted there. */
  connection?: Pick<Registration, 'subscriptionsChanged'>;
}

/** What the pipeline's protections are built from (see the README's Security section). */
export interface SecurityOptions {
  limits: Config['limits'];
  introspection: boolean;
  /** Where rate-limit buckets live (shared by instances with Redis). */
  storage: Storage;
  /** Per-user connection slots, also taken by SSE subscriptions. */
  slots: ConnectionSlots;
}

export interface PipelineOptions {
  schema: GraphQLSchema;
  services: ServerServices;
  logger: Logger;
  counts: LiveCounts;
  /** The slow-consumer policy: when the shared fan-out stops pulling a subscriber's events (./slow-consumers.ts). */
  slowConsumers?: Pick<SlowConsumerPolicy, 'drainAboveBytes'>;
  /** Aborts every SSE subscription when shutdown begins. */
  shutdownSignal: AbortSignal;
  /** Document limits, introspection policy, rate limiting and stream slots: on every transport. */
  security: SecurityOptions;
  /** Extra envelop plugins. */
  plugins?: Plugin[];
  /**
   * GraphiQL's opening headers and operation, or a function of the HTTP
   * request (`req`) choosing them (development fills them in: src/dev/graphiql.ts).
   */
  graphiql?: GraphiQLOpening | ((req: unknown) => GraphiQLOpening) | false;
}

export type Pipeline = YogaServerInstance<TransportContext, GraphQLContext>;

/** What GraphiQL opens with. */
export interface GraphiQLOpening {
  headers?: string;
  defaultQuery?: string;
}

/**
 * The one execution pipeline (graphql-yoga's envelop) that HTTP, SSE and
 * WebSocket operations all run through: same context, plugins, validation
 * and error masking.
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const {
    schema,
    services,
    logger,
    counts,
    slowConsumers,
    shutdownSignal,
    security,
    plugins = [],
    graphiql = {},
  } = options;
  const maskError = createErrorMasker(logger);

  return createYoga<TransportContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    logging: false,
    // GraphiQL's assets are served by this server, not a CDN: it works offline and under a strict CSP.
    renderGraphiQL,
    graphiql:
      graphiql === false
        ? false
        : (_request, context) => {
            const opening = typeof graphiql === 'function' ? graphiql(context?.req) : graphiql;
            return {
              title: 'Realtime GraphQL',
              headers: opening.headers ?? JSON.stringify({ Authorization: 'Bearer <paste a token>' }),
              shouldPersistHeaders: true,
              ...(opening.defaultQuery ? { defaultQuery: opening.defaultQuery } : {}),
            };
          },
    // Origins were already vetted by the transport; echo the caller's for CORS.
    cors: (request) => ({
      origin: request.headers.get('origin') ?? '*',
      credentials: true,
      allowedHeaders: ['authorization', 'content-type', 'accept', 'last-event-id'],
      methods: ['GET', 'POST', 'OPTIONS'],
    }),
    maskedErrors: { maskError: (error, message) => maskError(error, message) },
    // DOCUMENT_CACHE_MAX_BYTES: parsed documents and parse errors, bounded by the memory they hold.
    parserAndValidationCache:
      security.limits.documentCacheMaxBytes > 0 ? createDocumentCaches(security.limits.documentCacheMaxBytes) : false,
    context: ({ viewer, signal, transport, operations, refreshToken }) => {
      // Unreachable past useViewerRequired; kept so no operation ever runs without a viewer.
      if (!viewer) throw unauthenticated();
      if (transport === 'websocket') return websocketContext(viewer, services, operations, refreshToken);
      let expiry: AbortSignal | undefined;
      return {
        viewer,
        services,
        // An SSE subscription ends when its token expires, its client goes
        // away or shutdown begins. Made on first use, so queries and
        // mutations arm no timer.
        accessSignal: () =>
          (expiry ??= AbortSignal.any([
            shutdownSignal,
            ...(signal ? [signal] : []),
            AbortSignal.timeout(untilExpiry(viewer)),
          ])),
      };
    },
    plugins: [
      // First: no document is parsed, validated or cached for a caller without a verified viewer.
      useViewerRequired(),
      useSubscriptionCount(counts),
      useWriteOutcomes(logger),
      useRequestErrorCodes(),
      useIntrospectionPolicy({ introspection: security.introspection }),
      useQueryLimits(security.limits),
      useRateLimit({
        storage: security.storage,
        perSecond: security.limits.rateLimitPerSecond,
        burst: security.limits.rateLimitBurst,
        logger,
        onRefused: () => counts.rateLimited.rate++,
      }),
      useStreamSlots(
        security.slots,
        security.limits.maxConnectionsPerUser,
        () => counts.rateLimited.connectionsPerUser++,
      ),
      useStreamPresence(services.presence),
      // SSE subscriptions: offsets as event ids, resumed from Last-Event-ID.
      useResumableStreams(),
      ...plugins,
      // WebSocket subscriptions: one execution and one serialised frame per event and group (./fanout.ts).
      // Last: it ends the `onSubscribe` round of a WebSocket subscription (see there).
      useSharedSubscriptions({
        maskError: (error) => maskError(error),
        drainAboveBytes: slowConsumers?.drainAboveBytes,
        counters: counts.tallies,
        counts: counts.fanout,
      }),
      // Subscription result hooks (`onNext`) see the shared fan-out's deliveries too (./fanout.ts).
    ].map(withSharedDeliveryHooks),
  });
}

/**
 * A WebSocket operation's context: its access ends with its connection's
 * token signal (./socket-token.ts). Made here, so that the closure kept for
 * a subscription's life holds that signal alone, not the context factory's scope.
 */
function websocketContext(
  viewer: Viewer,
  services: ServerServices,
  signal: AccessSignal | undefined,
  refreshToken: GraphQLContext['refreshToken'],
): GraphQLContext {
  return { viewer, services, accessSignal: () => signal, refreshToken };
}

/** Milliseconds until a viewer's token expires, within what a timer can hold. */
export function untilExpiry(viewer: Viewer): number {
  return Math.min(Math.max(viewer.expiresAt - Date.now(), 0), 2 ** 31 - 1);
}

/**
 * Refuses to parse a document unless the transport has put a verified
 * viewer in the context: parse and validation errors ("Cannot query field
 * … on type …") would describe the schema to a stranger, and parsing costs
 * them nothing. The transports authenticate first; this holds the pipeline
 * to it whatever path a request takes.
 */
function useViewerRequired(): Plugin<TransportContext> {
  return {
    onParse({ context }) {
      if (!context.viewer) throw unauthenticated();
    },
  };
}

/**
 * Counts running SSE subscriptions (by root field) for `/health` and
 * `/metrics` (and on their stream's entry for the admin API), for the
 * lifetime of their request: until the stream ends or its client goes away
 * (envelop's `onEnd` alone misses a stream that ends in an error); and the
 * results they hand to their stream. The WebSocket adapter and fan-out count
 * their own from graphql-ws's operation lifecycle.
 */
function useSubscriptionCount(counts: LiveCounts): Plugin {
  return {
    onSubscribe({ args }) {
      // Nothing kept per WebSocket subscription: not even a hook that would return nothing.
      if ((args.contextValue as TransportContext).transport === 'websocket') return;
      return {
        onSubscribeResult({ result, args }) {
          if (!(Symbol.asyncIterator in result)) return;
          const { connection } = args.contextValue as TransportContext;
          const field = rootFieldOf(args);
          countSubscription(counts, field, 1);
          connection?.subscriptionsChanged(1);
          return {
            onNext: countsAsDelivery(field)
              ? () => counts.tallies.delivered((args.contextValue as TransportContext).viewer!.orgId, 'sse')
              : undefined,
            onEnd: releaseWhenGone(args.contextValue, () => {
              countSubscription(counts, field, -1);
              connection?.subscriptionsChanged(-1);
            }),
          };
        },
      };
    },
  };
}

/**
 * The one error masker, for yoga and for failures the WebSocket adapter
 * catches itself: expected errors (GraphQLError) pass as they are, a Redis
 * outage becomes `SERVICE_UNAVAILABLE` (a failure after one of the
 * operation's writes was sent is `OUTCOME_UNKNOWN` by then: see
 * ./plugins/use-write-outcomes.ts), anything else is logged and sent as
 * `INTERNAL_SERVER_ERROR` with a generic message: nothing internal leaks.
 */
export function createErrorMasker(logger: Logger) {
  return (error: unknown, message = 'Unexpected error.'): GraphQLError => {
    const original = isGraphQLError(error) ? (error.originalError ?? error) : error;
    if (isGraphQLError(original)) return error as GraphQLError;
    if (isRedisOutage(original)) {
      logger.warn({ err: (original as Error).message }, 'operation failed: redis unavailable');
      return unavailable();
    }
    logger.error({ err: original ?? error }, 'unexpected error in operation');
    return new GraphQLError(message, {
      path: isGraphQLError(error) ? error.path : undefined,
      extensions: { code: ErrorCode.Internal },
    });
  };
}
