import { GraphQLError } from 'graphql';

/** The `extensions.code` values of the client contract. */
export const ErrorCode = {
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  BadUserInput: 'BAD_USER_INPUT',
  RateLimited: 'RATE_LIMITED',
  Unavailable: 'SERVICE_UNAVAILABLE',
  /**
   * A write was sent and its answer lost (Redis stalled past its command
   * timeout, or the connection dropped): the change may or may not have been
   * made. Unlike `SERVICE_UNAVAILABLE`, this never means "not done": retry
   * with the same idempotency key (`clientMessageId`, `idempotencyKey`), or
   * read to check.
   */
  OutcomeUnknown: 'OUTCOME_UNKNOWN',
  /**
   * A resumed subscription's missed events are no longer all kept (the
   * window passed, or the history was lost, after `connection_ack`
   * answered): the subscription ends rather than skip them; refetch, then
   * subscribe afresh.
   */
  ResumeFailed: 'RESUME_FAILED',
  Internal: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An expected error: shown to the client as is, with its contract code.
 * Anything else thrown in a resolver is masked as INTERNAL_SERVER_ERROR.
 */
function expected(code: ErrorCode, message: string, httpStatus?: number, extra?: Record<string, unknown>) {
  return new GraphQLError(message, {
    extensions: { code, ...extra, ...(httpStatus ? { http: { status: httpStatus } } : {}) },
  });
}

/** No usable token: HTTP 401. */
export const unauthenticated = (message = 'A valid bearer token is required') =>
  expected(ErrorCode.Unauthenticated, message, 401);

/** Authenticated, but the viewer's role does not allow the operation. */
export const forbidden = (message = 'You are not allowed to do this') => expected(ErrorCode.Forbidden, message);

/**
 * The resource does not exist, or belongs to someone the viewer may not see:
 * both read the same, so nothing reveals another tenant's ids.
 */
export const notFound = (kind: string, id: string) =>
  expected(ErrorCode.NotFound, `${kind} "${truncate(id)}" was not found`, undefined, { id: truncate(id) });

/** A value the client sent breaks a documented rule. */
export const badInput = (message: string, field?: string) =>
  expected(ErrorCode.BadUserInput, message, undefined, field ? { field } : undefined);

/**
 * Too many operations or resources for this user. With `retryAfterMs`, the
 * error says when to try again (`extensions.retryAfterMs`, and a
 * `Retry-After` header over HTTP).
 */
export const rateLimited = (message: string, retryAfterMs?: number) =>
  retryAfterMs === undefined
    ? expected(ErrorCode.RateLimited, message, 429)
    : new GraphQLError(message, {
        extensions: {
          code: ErrorCode.RateLimited,
          retryAfterMs,
          http: { status: 429, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } },
        },
      });

/** A dependency (Redis) is down: the write was not done, and may be retried. */
export const unavailable = (message = 'The service is temporarily unavailable, try again shortly') =>
  expected(ErrorCode.Unavailable, message, 503);

/** A write may have been applied: see {@link ErrorCode.OutcomeUnknown}. */
/** The events a resumed subscription missed cannot all be replayed any more (see {@link ErrorCode.ResumeFailed}). */
export const resumeFailed = () =>
  expected(
    ErrorCode.ResumeFailed,
    'The events missed since the last offset are no longer kept: refetch, then subscribe again',
  );

export const outcomeUnknown = () =>
  expected(
    ErrorCode.OutcomeUnknown,
    'The change may or may not have been made; retry with the same idempotency key, or read to check',
    503,
  );

function truncate(value: string): string {
  return value.length > 64 ? `${value.slice(0, 64)}…` : value;
}

/** By name, not `instanceof`: ESM and CJS copies of graphql-js may both be loaded. */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError';
}

/**
 * The `resolve` of a subscription field whose stream yields the field's
 * value itself (an event), not `{ field: value }`.
 */
export const yieldedEvent = (event: unknown) => event as never;
