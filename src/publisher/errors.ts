import { ErrorCode, isGraphQLError, outcomeUnknown, unavailable } from '../errors.js';
import { failureOutcome } from '../storage/write-outcome.js';

/**
 * A publisher call that was refused or failed, with the same code a GraphQL
 * client would get (`BAD_USER_INPUT`, `FORBIDDEN`, `NOT_FOUND`,
 * `SERVICE_UNAVAILABLE`, `OUTCOME_UNKNOWN`, …).
 */
export class PublishError extends Error {
  override name = 'PublishError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Turns a domain error (a GraphQLError with a code) into a {@link PublishError},
 * and a Redis failure into `SERVICE_UNAVAILABLE` (no write of the call was
 * sent: not done) or `OUTCOME_UNKNOWN` (one was: it may have been applied),
 * as GraphQL callers hear it; keeps others as they are.
 */
export function asPublishError(error: unknown, log?: Parameters<typeof failureOutcome>[1]): unknown {
  if (isGraphQLError(error)) {
    const code = (error as Error & { extensions?: { code?: unknown } }).extensions?.code;
    if (typeof code === 'string') return new PublishError(code, error.message, { cause: error });
  }
  const outcome = failureOutcome(error, log);
  if (outcome === 'unknown')
    return new PublishError(ErrorCode.OutcomeUnknown, outcomeUnknown().message, { cause: error });
  if (outcome === 'not-done') return new PublishError(ErrorCode.Unavailable, unavailable().message, { cause: error });
  return error;
}
