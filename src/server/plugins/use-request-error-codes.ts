import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, isGraphQLError } from '../../errors.js';

/**
 * Gives the contract's `BAD_USER_INPUT` code to errors that graphql-js and
 * yoga raise about the request itself (syntax, validation, variable
 * coercion such as an unknown enum value, malformed JSON), on every
 * transport. Errors that already carry a code are left alone.
 */
export function useRequestErrorCodes(): Plugin {
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        // Only graphql-js's own errors: anything else (a stack overflow on absurd
        // nesting) is left to the error masker, so its text never reaches a client.
        if (isGraphQLError(result)) replaceParseResult(withCode(result));
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map(withCode));
      },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (isRequestErrorResult(result)) setResult({ ...result, errors: result.errors.map(withCode) });
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (isRequestErrorResult(result)) setResult({ ...result, errors: result.errors.map(withCode) });
      },
    }),
    onResultProcess: ({ result, setResult }) => {
      if (Array.isArray(result) || Symbol.asyncIterator in result) return;
      if (result.errors?.length && result.data == null) {
        // Yoga's own HTTP errors (malformed JSON, wrong method) say BAD_REQUEST.
        setResult({ ...result, errors: result.errors.map(withCode) });
      }
    },
  };
}

/** A result with errors and no data: the operation never ran (bad variables). */
function isRequestErrorResult(result: unknown): result is ExecutionResult & { errors: readonly GraphQLError[] } {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return false;
  const { errors, data } = result as ExecutionResult;
  return Boolean(errors?.length) && data === undefined;
}

/** Codes that yoga and graphql-js give request errors, outside the contract's list. */
const REQUEST_ERROR_CODES = new Set([undefined, 'BAD_REQUEST', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/**
 * Gives a request error the contract's code (`BAD_USER_INPUT` instead of
 * none or yoga's and graphql-js's own). Yoga also attaches the JSON
 * parser's error (`extensions.originalError`: "SyntaxError: Unexpected
 * token …") to a malformed body whatever NODE_ENV says; that is dropped,
 * so no JavaScript error text reaches a client (and its HTTP status is
 * kept at 400 for `application/json` callers too, as yoga would have).
 */
function withCode(error: Error): GraphQLError {
  const graphqlError = error as GraphQLError;
  const { originalError, ...extensions } = (graphqlError.extensions ?? {}) as Record<string, unknown>;
  if (originalError !== undefined && typeof extensions.http === 'object' && extensions.http !== null) {
    const { spec: _spec, ...http } = extensions.http as Record<string, unknown>;
    extensions.http = http;
  }
  const code = extensions.code as string | undefined;
  if (!REQUEST_ERROR_CODES.has(code) && originalError === undefined) return graphqlError;
  return new GraphQLError(error.message, {
    nodes: graphqlError.nodes,
    source: graphqlError.source,
    positions: graphqlError.positions,
    path: graphqlError.path,
    originalError: graphqlError.originalError,
    extensions: { ...extensions, code: REQUEST_ERROR_CODES.has(code) ? ErrorCode.BadUserInput : code },
  });
}
