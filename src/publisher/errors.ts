import { isGraphQLError } from '../errors.js';

/**
 * A publisher call that was refused or failed, with the same code a GraphQL
 * client would get (`BAD_USER_INPUT`, `FORBIDDEN`, `NOT_FOUND`,
 * `SERVICE_UNAVAILABLE`, …).
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

/** Turns a domain error (a GraphQLError with a code) into a {@link PublishError}; keeps others as they are. */
export function asPublishError(error: unknown): unknown {
  if (isGraphQLError(error)) {
    const code = (error as Error & { extensions?: { code?: unknown } }).extensions?.code;
    if (typeof code === 'string') return new PublishError(code, error.message, { cause: error });
  }
  return error;
}
