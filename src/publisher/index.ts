import type { LogLevel } from '../config.js';
import { createLogger } from '../logger.js';
import { createRuntime } from '../runtime.js';
import { trackWrites } from '../storage/write-outcome.js';
import { actorViewer, parseActor, type PublisherActor } from './actor.js';
import { asPublishError, PublishError } from './errors.js';
import { inputs, type PublisherInputs } from './inputs.js';

export { PublishError } from './errors.js';
export type { PublisherActor } from './actor.js';
export type { PublisherInputs } from './inputs.js';

/** How a publisher reaches the server's Redis, and whom it acts as. */
export interface PublisherOptions {
  /** The Redis the servers use (their `REDIS_URL`); or `redisClusterNodes`, not both. */
  redisUrl?: string;
  /** The seed `host:port`s of the Redis Cluster the servers use (their `REDIS_CLUSTER_NODES`). */
  redisClusterNodes?: readonly string[];
  /** The servers' `REDIS_PREFIX` (default `rt:`). */
  redisPrefix?: string;
  /**
   * Whom every call acts as: `{ id, roles, name? }`, required and checked
   * as a token's claims are (`BAD_USER_INPUT` at `createPublisher`
   * otherwise). Roles are never implied: `['service']` reports gateway
   * state and sends notifications.
   */
  actor: PublisherActor;
  /**
   * Default `warn`. Warnings include a Redis whose `maxmemory-policy` may
   * evict keys: a publisher warns and goes on (the servers on that Redis are
   * the ones that refuse to start in production).
   */
  logLevel?: LogLevel;
  /** How long a Redis command may go unanswered (default 5000, as the servers' `REDIS_COMMAND_TIMEOUT_MS`). */
  redisCommandTimeoutMs?: number;
}

/**
 * Publishes events from any Node process (a backend, a webhook handler, a
 * cron job, a gateway) over the servers' Redis. Each call stores the change
 * and publishes its events exactly as the matching GraphQL mutation would,
 * with the same validation and the same authorization for the actor, so
 * subscribers on every instance see them filtered like any other event.
 * It needs Redis access only: no JWT, no GraphQL server.
 *
 * A call that fails because Redis did not answer rejects with
 * `SERVICE_UNAVAILABLE` when nothing was written (retry freely) and
 * `OUTCOME_UNKNOWN` when a write may have been applied: creates take an
 * `idempotencyKey`, so retrying them with the same key is safe.
 */
export async function createPublisher(options: PublisherOptions) {
  const { redisUrl, redisClusterNodes, redisPrefix = 'rt:', logLevel = 'warn', redisCommandTimeoutMs } = options;
  if (redisUrl && redisClusterNodes?.length)
    throw new PublishError(
      'BAD_USER_INPUT',
      'createPublisher takes redisUrl or redisClusterNodes, not both: the servers use one Redis or one cluster',
    );
  if (!redisUrl && !redisClusterNodes?.length)
    throw new PublishError(
      'BAD_USER_INPUT',
      'createPublisher needs redisUrl (or redisClusterNodes): the servers share events through Redis',
    );
  // Checked before connecting: a publisher with a bad identity never touches Redis.
  const actor = parseActor(options.actor);
  if ('error' in actor) throw new PublishError('BAD_USER_INPUT', `createPublisher: ${actor.error}`);
  const as = actor.actor;
  const clusterNodes = redisClusterNodes && [...redisClusterNodes];
  const runtime = await createRuntime(
    { redisUrl, redisClusterNodes: clusterNodes, redisPrefix, redisCommandTimeoutMs },
    createLogger(logLevel),
    {
      background: false,
    },
  );
  const { sessions, conversations, notifications, tasks, campaigns } = runtime.services;

  /** Validates `input`'s shape, then runs the domain call as the actor in the input's organisation. */
  const call =
    <K extends keyof typeof inputs, R>(
      name: K,
      run: (viewer: ReturnType<typeof actorViewer>, input: ReturnType<(typeof inputs)[K]['parse']>) => Promise<R>,
    ) =>
    async (input: PublisherInputs[K]): Promise<R> => {
      const parsed = inputs[name].safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new PublishError('BAD_USER_INPUT', `${name}: ${issue.path.join('.') || 'input'} ${issue.message}`);
      }
      const { result, log } = trackWrites(() => run(actorViewer(as, parsed.data.orgId), parsed.data as never));
      try {
        return await result;
      } catch (error) {
        throw asPublishError(error, log);
      }
    };

  return {
    /** Gateway state of a session: status, QR code, account, error (`service` or `admin`). */
    sessionStatus: call('sessionStatus', (viewer, { orgId: _, ...report }) => sessions.reportStatus(viewer, report)),
    /**
     * A delivery receipt for a message (`service` or `admin`): QUEUED, SENT,
     * DELIVERED, READ or FAILED; a late receipt changes and publishes nothing.
     */
    messageStatus: call('messageStatus', (viewer, { messageId, status }) =>
      conversations.updateStatus(viewer, messageId, status),
    ),
    /** A notification to one user of the organisation (`service` or `admin`). */
    notification: call('notification', (viewer, { orgId: _, idempotencyKey, ...input }) =>
      notifications.send(viewer, input, idempotencyKey),
    ),
    /**
     * Campaign control (`admin` or `agent`, as for users). The workers do the
     * sending and publish progress from their per-recipient records, so a
     * publisher starts, pauses, resumes and cancels, but never reports counts.
     */
    campaigns: {
      create: call('createCampaign', (viewer, { orgId: _, idempotencyKey, ...input }) =>
        campaigns.create(viewer, input, idempotencyKey),
      ),
      start: call('campaign', (viewer, { campaignId }) => campaigns.start(viewer, campaignId)),
      pause: call('campaign', (viewer, { campaignId }) => campaigns.pause(viewer, campaignId)),
      resume: call('campaign', (viewer, { campaignId }) => campaigns.resume(viewer, campaignId)),
      cancel: call('campaign', (viewer, { campaignId }) => campaigns.cancel(viewer, campaignId)),
    },
    /** Task changes (`admin` or `agent`, as for users). */
    tasks: {
      create: call('createTask', (viewer, { orgId: _, idempotencyKey, ...input }) =>
        tasks.create(viewer, input, idempotencyKey),
      ),
      update: call('updateTask', (viewer, { taskId, orgId: _, ...input }) => tasks.update(viewer, taskId, input)),
      assign: call('assignTask', (viewer, { taskId, assigneeId }) => tasks.assign(viewer, taskId, assigneeId)),
      setStatus: call('setTaskStatus', (viewer, { taskId, status }) => tasks.setStatus(viewer, taskId, status)),
      setProgress: call('setTaskProgress', (viewer, { taskId, progress }) =>
        tasks.setProgress(viewer, taskId, progress),
      ),
      addNote: call('addTaskNote', (viewer, { taskId, text, idempotencyKey }) =>
        tasks.addNote(viewer, taskId, text, idempotencyKey),
      ),
    },
    /** Releases the Redis connections. */
    close: () => runtime.close(),
  };
}

/** A connected publisher. */
export type Publisher = Awaited<ReturnType<typeof createPublisher>>;
