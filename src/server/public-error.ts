import type { ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';

/**
 * Extensions that steer the transport, never meant for a client: `http`
 * (status and headers an error asks of HTTP) and `unexpected` (yoga's mark
 * of a masked error). Yoga drops them from what it sends over HTTP and SSE;
 * the WebSocket transport writes its own frames and drops them here.
 */
const INTERNAL_EXTENSIONS = new Set(['http', 'unexpected']);

/**
 * An error as a client may see it: graphql-js's own serialisation (message,
 * locations, path, extensions) without the internal extensions. The
 * contract's `extensions.code` and any other public extension stay. Every
 * error the WebSocket transport sends goes through here, whatever path made it
 * (a refused `subscribe`, a query's result, a subscription event, a failed stream).
 */
export function publicError(error: GraphQLError): GraphQLFormattedError {
  // By duck type: the ESM and CommonJS copies of graphql-js may both make errors.
  const formatted: GraphQLFormattedError =
    typeof error.toJSON === 'function' ? error.toJSON() : { message: String((error as Error).message) };
  if (!formatted.extensions || !Object.keys(formatted.extensions).some((key) => INTERNAL_EXTENSIONS.has(key))) {
    return formatted;
  }
  const extensions = Object.fromEntries(
    Object.entries(formatted.extensions).filter(([key]) => !INTERNAL_EXTENSIONS.has(key)),
  );
  const { extensions: _internal, ...rest } = formatted;
  return Object.keys(extensions).length > 0 ? { ...rest, extensions } : rest;
}

/** A result with {@link publicError} errors and without result-level `extensions.http`. */
export function publicResult(result: ExecutionResult): FormattedExecutionResult {
  const { errors, extensions, ...rest } = result;
  const formatted: FormattedExecutionResult = { ...rest };
  if (errors) formatted.errors = errors.map(publicError);
  if (extensions) {
    const { http: _http, ...others } = extensions;
    if (Object.keys(others).length > 0) formatted.extensions = others;
  }
  return formatted;
}
