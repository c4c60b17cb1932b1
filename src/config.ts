import { createPublicKey } from 'node:crypto';
import { z } from 'zod';

/** Levels understood by the logger, from most to least verbose. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How incoming JWTs are verified: exactly one source of keys is in force. */
export type JwtKeyConfig =
  | { kind: 'secret'; secret: string }
  | { kind: 'publicKey'; pem: string }
  | { kind: 'jwks'; url: string }
  /** No key configured outside production: a random secret lives as long as the process. */
  | { kind: 'ephemeral'; secret: string };

/** Everything the server reads from its environment, validated once at start-up. */
export interface Config {
  port: number;
  host: string;
  /**
   * `LISTEN_BACKLOG`: connections the kernel queues for this server before
   * it accepts them (capped by the kernel's `somaxconn`), so a reconnect
   * storm waits in the queue instead of being refused. Default 4096.
   */
  listenBacklog: number;
  /** Absent: the embedded in-memory engine for events and state (one process only). */
  redisUrl: string | undefined;
  /**
   * `REDIS_CLUSTER_NODES`: seed `host:port`s of a Redis Cluster, used
   * instead of `REDIS_URL` (setting both is refused): state on the cluster,
   * events over sharded pub/sub.
   */
  redisClusterNodes: string[] | undefined;
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  redisPrefix: string;
  /**
   * `REDIS_ALLOW_EVICTION`: start in production even on a Redis whose
   * `maxmemory-policy` may evict keys (state can then vanish). Default false.
   */
  redisAllowEviction: boolean;
  /**
   * `REDIS_COMMAND_TIMEOUT_MS`: how long a Redis command may go unanswered
   * before the operation fails (a write then answers `OUTCOME_UNKNOWN`).
   */
  redisCommandTimeoutMs: number;
  /**
   * `COMMAND_CLAIM_IDLE_MS`: how long an internal command (gateway command,
   * campaign wake-up) read by a worker may stay unacknowledged before
   * another worker takes it over (the first one died holding it).
   */
  commandClaimIdleMs: number;
  /**
   * `RESUME_WINDOW_SECONDS`: how long events stay replayable for a client
   * that reconnects (see the README's "Resume after a reconnect"). 0 turns
   * resume off: no offsets, no history kept.
   */
  resumeWindowSeconds: number;
  jwt: {
    key: JwtKeyConfig;
    issuer: string | undefined;
    audience: string | undefined;
    /**
     * `JWT_MAX_TOKEN_AGE_SECONDS`: when set, a token whose `exp` lies further
     * than this from its `iat` (or that has no `iat`, or an `iat` in the
     * future) is refused, so a leaked long-lived token cannot serve for years.
     */
    maxTokenAgeSeconds?: number | undefined;
  };
  logLevel: LogLevel;
  nodeEnv: 'development' | 'production' | 'test';
  /** Origins allowed to call the API from a browser, besides the server's own. `*` allows any. */
  corsOrigins: string[];
  /**
   * `PUBLIC_ORIGIN`: the origin browsers reach this server at (behind a proxy
   * or a domain name), allowed like the address it listens on. The `Host`
   * header is never trusted for this: a DNS-rebinding page controls it.
   */
  publicOrigin: string | undefined;
  /** Milliseconds that shutdown waits for connections to drain before forcing them. */
  shutdownTimeoutMs: number;
  /** STATUS_INTERVAL_MS: how often the status page (`deploymentStatus`) gets a snapshot. */
  statusIntervalMs: number;
  /** How campaign workers send. */
  campaigns: CampaignConfig;
  /** The simulated messaging gateway that workers send through and that drives sessions. */
  gateway: GatewayConfig;
  /**
   * Whether the server runs a campaign worker (with the simulated gateway)
   * in its own process: `EMBEDDED_WORKER=on|off|auto`, where `auto` (the
   * default) means on exactly when there is no `REDIS_URL` nor `REDIS_CLUSTER_NODES`, so `npm start`
   * alone runs campaigns and deployments on Redis run `npm run worker`.
   */
  embeddedWorker: boolean;
  presence: PresenceConfig;
  conversations: ConversationConfig;
  /** Abuse limits and protocol timings; see the README's Security section for each one's answer. */
  limits: Limits;
  /** Whether `__schema`/`__type` may be queried (and "Did you mean" suggestions shown). */
  introspection: boolean;
  /**
   * DEV_STATE_FILE: where the embedded default keeps its data and its
   * development secret across restarts (`.data/dev-state.json`; `off` to
   * forget everything at exit). Only in development without Redis.
   */
  devStateFile: string | undefined;
  /** Prometheus metrics: their own listener, never the public port (README: Operations → Metrics). */
  metrics: MetricsConfig;
  /** How long data is kept, so Redis memory follows activity, not age (README: Operations → Retention). */
  retention: RetentionConfig;
}

/**
 * How long each kind of data is kept, in seconds; 0 keeps it for good.
 * Expiry is Redis-native (set in the script that writes), and the embedded
 * default honours the same settings.
 */
export interface RetentionConfig {
  /** `NOTIFICATION_RETENTION_SECONDS`: a notification is deleted this long after it was sent, read or not. */
  notificationsSeconds: number;
  /**
   * `MESSAGE_RETENTION_SECONDS`: a message is deleted this long after it was
   * sent. Messages are product data: 0 (the default) keeps them. Read
   * pointers follow: each expires this long after it last moved.
   */
  messagesSeconds: number;
  /**
   * `CAMPAIGN_DATA_RETENTION_SECONDS`: a campaign's recipients and delivery
   * ledger are deleted this long after it ended (completed, failed or
   * cancelled); the campaign and its counts stay.
   */
  campaignDataSeconds: number;
  /** `GATEWAY_LOG_RETENTION_SECONDS`: the simulated gateway's record of each message it sent is deleted this long after. */
  gatewayLogSeconds: number;
}

const DAY_SECONDS = 86_400;

/** Retention by default: notifications 90 days, ended campaigns' data 30, the gateway's log 7; messages kept. */
export const DEFAULT_RETENTION: RetentionConfig = {
  notificationsSeconds: 90 * DAY_SECONDS,
  messagesSeconds: 0,
  campaignDataSeconds: 30 * DAY_SECONDS,
  gatewayLogSeconds: 7 * DAY_SECONDS,
};

/** Where `GET /metrics` is served. */
export interface MetricsConfig {
  /** `METRICS_PORT`: the metrics listener's port (default 9464); 0 turns metrics off. */
  port: number;
  /** `METRICS_HOST`: the address it binds (default 127.0.0.1: scraped from the same host or network namespace). */
  host: string;
}

/** Every limit the transports and the pipeline enforce, each from its own variable. */
export interface Limits {
  /** HTTP_MAX_BODY_BYTES: largest HTTP request body (413 beyond). */
  httpMaxBodyBytes: number;
  /** WS_MAX_PAYLOAD_BYTES: largest WebSocket message (close 1009 beyond). */
  wsMaxPayloadBytes: number;
  /** WS_CONNECTION_INIT_TIMEOUT_MS: time to send `connection_init` (close 4408 after). */
  wsConnectionInitTimeoutMs: number;
  /** WS_MAX_CONCURRENT_INITS: `connection_init`s checked at once per instance; later ones wait their turn. */
  wsMaxConcurrentInits: number;
  /** WS_KEEPALIVE_MS: interval of server pings; a socket that misses one is terminated. 0 disables. */
  wsKeepAliveMs: number;
  /** WS_MAX_BUFFERED_BYTES: bytes queued for a socket before it counts as a slow consumer. */
  wsMaxBufferedBytes: number;
  /** WS_SLOW_CONSUMER_GRACE_MS: how long a socket may stay over WS_MAX_BUFFERED_BYTES (close 4413 after). */
  wsSlowConsumerGraceMs: number;
  /** SUBSCRIPTION_MAX_QUEUED_EVENTS: events held for one subscription that is not being read. */
  subscriptionMaxQueuedEvents: number;
  /** MAX_SUBSCRIPTIONS_PER_CONNECTION: operations running at once on one WebSocket. */
  maxSubscriptionsPerConnection: number;
  /** MAX_CONNECTIONS_PER_USER: open WebSockets plus SSE streams of one user, across instances. */
  maxConnectionsPerUser: number;
  /** RATE_LIMIT_PER_SECOND: operations a user may start per second, sustained. */
  rateLimitPerSecond: number;
  /** RATE_LIMIT_BURST: operations a user may start at once (token bucket size). */
  rateLimitBurst: number;
  /** MAX_DEPTH: deepest selection, fragments flattened. */
  maxDepth: number;
  /** MAX_ALIASES: aliases in one document. */
  maxAliases: number;
  /** MAX_DIRECTIVES: directives in one document. */
  maxDirectives: number;
  /** MAX_TOKENS: lexical tokens in one document. */
  maxTokens: number;
  /** MAX_COST: GraphQL Armor cost (objects 2, scalars 1, times 1.5 per level). */
  maxCost: number;
  /**
   * DOCUMENT_CACHE_MAX_BYTES: memory the parsed-document and parse-error
   * caches may hold (estimated from each document's source and tokens), so
   * distinct documents cannot pile up. 0 disables the caches.
   */
  documentCacheMaxBytes: number;
}

/** Campaign workers: batches, leases, pace and progress. */
export interface CampaignConfig {
  /** `CAMPAIGN_PROGRESS_EVERY`: a `CampaignProgress` at least every this many messages. */
  progressEvery: number;
  /** `CAMPAIGN_SEND_RATE`: messages per second per session, across every worker. */
  sendRate: number;
  /** `CAMPAIGN_BATCH_SIZE`: recipients claimed at a time; pause takes effect within one batch. */
  batchSize: number;
  /** `CAMPAIGN_LEASE_MS`: a worker holds a campaign this long unless it renews (every third of it). */
  leaseMs: number;
  /** `CAMPAIGN_POLL_MS`: how often an idle worker looks for campaigns to run or to take over. */
  pollMs: number;
  /** `CAMPAIGN_RECEIPT_WAIT_MS`: after the last send, how long to wait for delivery receipts before completing. */
  receiptWaitMs: number;
  /** `CAMPAIGN_WORKER_CONCURRENCY`: campaigns one worker runs at once. */
  concurrency: number;
}

/** The simulated gateway. */
export interface GatewayConfig {
  /** `GATEWAY_LATENCY_MS`: typical time to answer a send; receipts follow at multiples of it. */
  latencyMs: number;
  /** `GATEWAY_FAILURE_RATE`: share of messages that fail (refused, or a FAILED receipt), 0 to 1. */
  failureRate: number;
  /** `GATEWAY_ERROR_RATE`: share of send calls that time out (half of them after accepting), 0 to 1. */
  errorRate: number;
  /** `GATEWAY_QR_INTERVAL_MS`: a fresh QR code this often while a session waits to be scanned. */
  qrIntervalMs: number;
  /** `GATEWAY_SCAN_DELAY_MS`: the simulated phone scans the QR code this long after `connectSession`. */
  scanDelayMs: number;
}

/**
 * How instances keep presence honest. Each instance renews a heartbeat
 * every `heartbeatMs`; one silent for `lapseMs` is presumed dead, and the
 * next sweep by a survivor (also every `heartbeatMs`) marks its users
 * offline. A dead instance's users thus go offline within
 * `lapseMs + heartbeatMs`, which the configuration keeps within 60 s.
 */
export interface PresenceConfig {
  heartbeatMs: number;
  lapseMs: number;
}

/** How big a conversation may grow. */
export interface ConversationConfig {
  /** `MAX_CONVERSATION_MEMBERS`: members of one conversation, its creator included (BAD_USER_INPUT beyond). */
  maxMembers: number;
}

/** A room of a thousand: company-wide rooms and support queues fit; a send's cost does not grow with it. */
export const DEFAULT_CONVERSATION_CONFIG: ConversationConfig = { maxMembers: 1_000 };

/** The longest a dead instance may leave its users online (client contract). */
export const PRESENCE_MAX_STALE_MS = 60_000;

/** Production defaults: a dead instance's users go offline within 40 s. */
/** `COMMAND_CLAIM_IDLE_MS` by default: a worker's command in hand is taken over after 30 s of silence. */
export const DEFAULT_COMMAND_CLAIM_IDLE_MS = 30_000;

/** `RESUME_WINDOW_SECONDS` by default: five minutes of events are replayable after a reconnect. */
export const DEFAULT_RESUME_WINDOW_SECONDS = 300;

export const DEFAULT_PRESENCE_CONFIG: PresenceConfig = { heartbeatMs: 10_000, lapseMs: 30_000 };

/** A configuration problem, phrased as one line naming the variable and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const integer = (fallback: number, min: number, max: number) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(min, `must be a whole number from ${min} to ${max}`)
          .max(max, `must be a whole number from ${min} to ${max}`),
      )
      .optional()
      .transform((value) => value ?? fallback),
  );

const fraction = (fallback: number) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a number from 0 to 1')
      .transform(Number)
      .optional()
      .transform((value) => value ?? fallback),
  );

const url = (protocols: string[]) =>
  optionalString.pipe(
    z
      .string()
      .refine(
        (value) => {
          try {
            return protocols.includes(new URL(value).protocol);
          } catch {
            return false;
          }
        },
        `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
      )
      .optional(),
  );

const envSchema = z.object({
  PORT: integer(4000, 0, 65535),
  LISTEN_BACKLOG: integer(4096, 1, 65535),
  HOST: optionalString.transform((value) => value ?? '0.0.0.0'),
  REDIS_URL: url(['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: optionalString.pipe(
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((node) => node.trim())
          .filter(Boolean),
      )
      .refine(
        (nodes) => nodes.length > 0 && nodes.every((node) => /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(node)),
        'must be comma-separated host:port seed nodes, like 10.0.0.1:6379,10.0.0.2:6379',
      )
      .optional(),
  ),
  REDIS_PREFIX: optionalString.transform((value) => value ?? 'rt:'),
  REDIS_ALLOW_EVICTION: optionalString.pipe(z.enum(['true', 'false']).optional()),
  REDIS_COMMAND_TIMEOUT_MS: integer(5_000, 50, 600_000),
  COMMAND_CLAIM_IDLE_MS: integer(DEFAULT_COMMAND_CLAIM_IDLE_MS, 100, 3_600_000),
  RESUME_WINDOW_SECONDS: integer(DEFAULT_RESUME_WINDOW_SECONDS, 0, 86_400),
  NOTIFICATION_RETENTION_SECONDS: integer(DEFAULT_RETENTION.notificationsSeconds, 0, 3650 * DAY_SECONDS),
  MESSAGE_RETENTION_SECONDS: integer(DEFAULT_RETENTION.messagesSeconds, 0, 3650 * DAY_SECONDS),
  CAMPAIGN_DATA_RETENTION_SECONDS: integer(DEFAULT_RETENTION.campaignDataSeconds, 0, 3650 * DAY_SECONDS),
  GATEWAY_LOG_RETENTION_SECONDS: integer(DEFAULT_RETENTION.gatewayLogSeconds, 0, 3650 * DAY_SECONDS),
  JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters (256 bits) for HS256').optional()),
  JWT_PUBLIC_KEY: optionalString.pipe(
    z
      .string()
      .refine(isUsablePublicKey, 'must be an RSA or EC public key in PEM (SPKI) form; write newlines as \\n')
      .optional(),
  ),
  JWT_JWKS_URL: url(['https:', 'http:']),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  JWT_MAX_TOKEN_AGE_SECONDS: integer(0, 1, 10 * 365 * 86_400),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS).optional()),
  NODE_ENV: optionalString.pipe(z.enum(['development', 'production', 'test']).optional()),
  CORS_ORIGINS: optionalString.transform((value) =>
    value
      ? value
          .split(',')
          .map((origin) => origin.trim().replace(/\/+$/, ''))
          .filter(Boolean)
      : [],
  ),
  PUBLIC_ORIGIN: optionalString,
  SHUTDOWN_TIMEOUT_MS: integer(10_000, 0, 600_000),
  STATUS_INTERVAL_MS: integer(2_000, 100, 60_000),
  CAMPAIGN_PROGRESS_EVERY: integer(100, 1, 1_000_000),
  CAMPAIGN_SEND_RATE: integer(20, 1, 100_000),
  CAMPAIGN_BATCH_SIZE: integer(50, 1, 1000),
  CAMPAIGN_LEASE_MS: integer(15_000, 300, 600_000),
  CAMPAIGN_POLL_MS: integer(1000, 10, 60_000),
  CAMPAIGN_RECEIPT_WAIT_MS: integer(30_000, 0, 86_400_000),
  CAMPAIGN_WORKER_CONCURRENCY: integer(4, 1, 100),
  EMBEDDED_WORKER: optionalString.pipe(z.enum(['auto', 'on', 'off']).optional()),
  DEV_STATE_FILE: optionalString,
  GATEWAY_LATENCY_MS: integer(200, 0, 60_000),
  GATEWAY_FAILURE_RATE: fraction(0.02),
  GATEWAY_ERROR_RATE: fraction(0),
  GATEWAY_QR_INTERVAL_MS: integer(20_000, 10, 600_000),
  GATEWAY_SCAN_DELAY_MS: integer(30_000, 0, 3_600_000),
  PRESENCE_HEARTBEAT_MS: integer(DEFAULT_PRESENCE_CONFIG.heartbeatMs, 100, 30_000),
  PRESENCE_LAPSE_MS: integer(DEFAULT_PRESENCE_CONFIG.lapseMs, 200, 59_000),
  // 4 MiB: a 100 000-recipient createCampaign (about 1.7 MB) fits in one request.
  HTTP_MAX_BODY_BYTES: integer(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  WS_MAX_PAYLOAD_BYTES: integer(1024 * 1024, 1024, 64 * 1024 * 1024),
  WS_CONNECTION_INIT_TIMEOUT_MS: integer(3_000, 100, 60_000),
  WS_MAX_CONCURRENT_INITS: integer(128, 1, 100_000),
  WS_KEEPALIVE_MS: integer(12_000, 0, 600_000),
  WS_MAX_BUFFERED_BYTES: integer(1024 * 1024, 1024, 256 * 1024 * 1024),
  WS_SLOW_CONSUMER_GRACE_MS: integer(5_000, 0, 600_000),
  SUBSCRIPTION_MAX_QUEUED_EVENTS: integer(1_000, 1, 1_000_000),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: integer(100, 1, 10_000),
  MAX_CONNECTIONS_PER_USER: integer(20, 1, 100_000),
  RATE_LIMIT_PER_SECOND: integer(20, 1, 1_000_000),
  RATE_LIMIT_BURST: integer(100, 1, 1_000_000),
  MAX_DEPTH: integer(8, 1, 100),
  MAX_ALIASES: integer(15, 0, 10_000),
  MAX_DIRECTIVES: integer(50, 0, 10_000),
  MAX_TOKENS: integer(1_000, 10, 10_000_000),
  MAX_COST: integer(5_000, 1, 100_000_000),
  DOCUMENT_CACHE_MAX_BYTES: integer(32 * 1024 * 1024, 0, 1024 * 1024 * 1024),
  INTROSPECTION: optionalString.pipe(z.enum(['true', 'false']).optional()),
  MAX_CONVERSATION_MEMBERS: integer(DEFAULT_CONVERSATION_CONFIG.maxMembers, 2, 100_000),
  METRICS_PORT: integer(9464, 0, 65535),
  METRICS_HOST: optionalString.transform((value) => value ?? '127.0.0.1'),
});

/** Reads and validates the environment; throws {@link ConfigError} on the first bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const raw = env[name];
    // Secrets, keys and URLs (which may hold passwords) are never echoed.
    const shown = raw === undefined || /SECRET|KEY|URL/.test(name) ? '' : ` (got "${raw}")`;
    throw new ConfigError(`${name} ${issue.message}${shown}`);
  }
  const vars = parsed.data;
  const nodeEnv = vars.NODE_ENV ?? 'development';

  const corsOrigins = vars.CORS_ORIGINS.map((origin) => {
    if (origin === '*') return origin;
    const normalised = asOrigin(origin);
    if (!normalised) {
      throw new ConfigError(`CORS_ORIGINS has "${origin}", which is not an origin like https://app.example.com`);
    }
    return normalised;
  });

  const publicOrigin = vars.PUBLIC_ORIGIN === undefined ? undefined : asOrigin(vars.PUBLIC_ORIGIN.replace(/\/+$/, ''));
  if (vars.PUBLIC_ORIGIN !== undefined && !publicOrigin) {
    throw new ConfigError(
      `PUBLIC_ORIGIN has "${vars.PUBLIC_ORIGIN}", which is not an origin like https://api.example.com`,
    );
  }

  if (vars.REDIS_URL && vars.REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      'REDIS_URL and REDIS_CLUSTER_NODES are exclusive: set REDIS_URL for one Redis or REDIS_CLUSTER_NODES for a Redis Cluster',
    );
  }
  const usesRedis = Boolean(vars.REDIS_URL ?? vars.REDIS_CLUSTER_NODES);

  const keySources = [vars.JWT_SECRET, vars.JWT_PUBLIC_KEY, vars.JWT_JWKS_URL].filter(Boolean);
  if (keySources.length > 1) {
    throw new ConfigError('JWT_SECRET, JWT_PUBLIC_KEY and JWT_JWKS_URL are exclusive: set only one of them');
  }
  let key: JwtKeyConfig;
  if (vars.JWT_SECRET) key = { kind: 'secret', secret: vars.JWT_SECRET };
  else if (vars.JWT_PUBLIC_KEY) key = { kind: 'publicKey', pem: vars.JWT_PUBLIC_KEY.replace(/\\n/g, '\n') };
  else if (vars.JWT_JWKS_URL) key = { kind: 'jwks', url: vars.JWT_JWKS_URL };
  else if (nodeEnv === 'production') {
    throw new ConfigError('JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL must be set when NODE_ENV=production');
  } else {
    key = { kind: 'ephemeral', secret: randomSecret() };
  }

  if (vars.PRESENCE_LAPSE_MS < 2 * vars.PRESENCE_HEARTBEAT_MS) {
    throw new ConfigError(
      `PRESENCE_LAPSE_MS must be at least twice PRESENCE_HEARTBEAT_MS (got ${vars.PRESENCE_LAPSE_MS} and ${vars.PRESENCE_HEARTBEAT_MS})`,
    );
  }
  if (vars.PRESENCE_LAPSE_MS + vars.PRESENCE_HEARTBEAT_MS > PRESENCE_MAX_STALE_MS) {
    throw new ConfigError(
      `PRESENCE_LAPSE_MS plus PRESENCE_HEARTBEAT_MS must not exceed ${PRESENCE_MAX_STALE_MS} (got ${vars.PRESENCE_LAPSE_MS + vars.PRESENCE_HEARTBEAT_MS})`,
    );
  }

  return {
    port: vars.PORT,
    host: vars.HOST,
    listenBacklog: vars.LISTEN_BACKLOG,
    redisUrl: vars.REDIS_URL,
    redisClusterNodes: vars.REDIS_CLUSTER_NODES,
    redisPrefix: vars.REDIS_PREFIX,
    redisAllowEviction: vars.REDIS_ALLOW_EVICTION === 'true',
    redisCommandTimeoutMs: vars.REDIS_COMMAND_TIMEOUT_MS,
    commandClaimIdleMs: vars.COMMAND_CLAIM_IDLE_MS,
    resumeWindowSeconds: vars.RESUME_WINDOW_SECONDS,
    jwt: {
      key,
      issuer: vars.JWT_ISSUER,
      audience: vars.JWT_AUDIENCE,
      maxTokenAgeSeconds: vars.JWT_MAX_TOKEN_AGE_SECONDS || undefined,
    },
    logLevel: vars.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    nodeEnv,
    corsOrigins,
    publicOrigin,
    shutdownTimeoutMs: vars.SHUTDOWN_TIMEOUT_MS,
    statusIntervalMs: vars.STATUS_INTERVAL_MS,
    campaigns: {
      progressEvery: vars.CAMPAIGN_PROGRESS_EVERY,
      sendRate: vars.CAMPAIGN_SEND_RATE,
      batchSize: vars.CAMPAIGN_BATCH_SIZE,
      leaseMs: vars.CAMPAIGN_LEASE_MS,
      pollMs: vars.CAMPAIGN_POLL_MS,
      receiptWaitMs: vars.CAMPAIGN_RECEIPT_WAIT_MS,
      concurrency: vars.CAMPAIGN_WORKER_CONCURRENCY,
    },
    gateway: {
      latencyMs: vars.GATEWAY_LATENCY_MS,
      failureRate: vars.GATEWAY_FAILURE_RATE,
      errorRate: vars.GATEWAY_ERROR_RATE,
      qrIntervalMs: vars.GATEWAY_QR_INTERVAL_MS,
      scanDelayMs: vars.GATEWAY_SCAN_DELAY_MS,
    },
    embeddedWorker: (vars.EMBEDDED_WORKER ?? 'auto') === 'auto' ? !usesRedis : vars.EMBEDDED_WORKER === 'on',
    devStateFile:
      nodeEnv === 'development' && !usesRedis && vars.DEV_STATE_FILE !== 'off'
        ? (vars.DEV_STATE_FILE ?? '.data/dev-state.json')
        : undefined,
    presence: { heartbeatMs: vars.PRESENCE_HEARTBEAT_MS, lapseMs: vars.PRESENCE_LAPSE_MS },
    conversations: { maxMembers: vars.MAX_CONVERSATION_MEMBERS },
    limits: {
      httpMaxBodyBytes: vars.HTTP_MAX_BODY_BYTES,
      wsMaxPayloadBytes: vars.WS_MAX_PAYLOAD_BYTES,
      wsConnectionInitTimeoutMs: vars.WS_CONNECTION_INIT_TIMEOUT_MS,
      wsMaxConcurrentInits: vars.WS_MAX_CONCURRENT_INITS,
      wsKeepAliveMs: vars.WS_KEEPALIVE_MS,
      wsMaxBufferedBytes: vars.WS_MAX_BUFFERED_BYTES,
      wsSlowConsumerGraceMs: vars.WS_SLOW_CONSUMER_GRACE_MS,
      subscriptionMaxQueuedEvents: vars.SUBSCRIPTION_MAX_QUEUED_EVENTS,
      maxSubscriptionsPerConnection: vars.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxConnectionsPerUser: vars.MAX_CONNECTIONS_PER_USER,
      rateLimitPerSecond: vars.RATE_LIMIT_PER_SECOND,
      rateLimitBurst: vars.RATE_LIMIT_BURST,
      maxDepth: vars.MAX_DEPTH,
      maxAliases: vars.MAX_ALIASES,
      maxDirectives: vars.MAX_DIRECTIVES,
      maxTokens: vars.MAX_TOKENS,
      maxCost: vars.MAX_COST,
      documentCacheMaxBytes: vars.DOCUMENT_CACHE_MAX_BYTES,
    },
    // Off in production unless asked for: the schema is not published to strangers.
    introspection: vars.INTROSPECTION === undefined ? nodeEnv !== 'production' : vars.INTROSPECTION === 'true',
    metrics: { port: vars.METRICS_PORT, host: vars.METRICS_HOST },
    retention: {
      notificationsSeconds: vars.NOTIFICATION_RETENTION_SECONDS,
      messagesSeconds: vars.MESSAGE_RETENTION_SECONDS,
      campaignDataSeconds: vars.CAMPAIGN_DATA_RETENTION_SECONDS,
      gatewayLogSeconds: vars.GATEWAY_LOG_RETENTION_SECONDS,
    },
  };
}

/**
 * An origin in the form browsers send it (`scheme://host[:port]`, lower
 * case, default port dropped), or undefined when it is not one.
 */
export function normaliseOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** A configured origin (`scheme://host[:port]`, nothing more), normalised; undefined when it is not one. */
function asOrigin(value: string): string | undefined {
  return /^https?:\/\/[^/\s?#]+$/i.test(value) ? normaliseOrigin(value) : undefined;
}

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

function isUsablePublicKey(pem: string): boolean {
  try {
    const type = createPublicKey(pem.replace(/\\n/g, '\n')).asymmetricKeyType;
    return type === 'rsa' || type === 'ec';
  } catch {
    return false;
  }
}
