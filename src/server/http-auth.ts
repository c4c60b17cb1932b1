import type { IncomingMessage } from 'node:http';
import type { GraphQLError } from 'graphql';
import { bearerToken, InvalidTokenError, type VerifyToken } from '../auth/jwt.js';
import type { Viewer } from '../auth/viewer.js';
import { unauthenticated } from '../errors.js';

/** A verified caller, or the error to answer with instead (`UNAUTHENTICATED`, or a masked failure). */
export type Authentication = { viewer: Viewer } | { error: GraphQLError };

/**
 * HTTP authentication in the transport: the bearer token of a request is
 * verified before its body is read or any GraphQL document is parsed, so a
 * stranger without a token costs a header check, never a parse, a
 * validation or a cache entry, and learns nothing about the schema.
 * Unexpected failures (a JWKS endpoint down) go through `maskError`.
 */
export function createHttpAuthenticator(verifyToken: VerifyToken, maskError: (error: unknown) => GraphQLError) {
  return async (request: Pick<IncomingMessage, 'headers'>): Promise<Authentication> => {
    const token = bearerToken(request.headers.authorization);
    if (!token) return { error: unauthenticated('Send "Authorization: Bearer <token>"') };
    try {
      return { viewer: await verifyToken(token) };
    } catch (error) {
      return { error: error instanceof InvalidTokenError ? unauthenticated(error.message) : maskError(error) };
    }
  };
}

/**
 * Requests answered without a token because no GraphQL runs for them:
 * CORS preflights, and GraphiQL's page (a GET accepting HTML, the very test
 * yoga uses to render it instead of executing).
 */
export function isOpenToAnyone(request: Pick<IncomingMessage, 'method' | 'headers'>): boolean {
  if (request.method === 'OPTIONS') return true;
  return request.method === 'GET' && Boolean(request.headers.accept?.includes('text/html'));
}
