import { getNamedType, GraphQLError, isIntrospectionType, type ExecutionResult, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../../errors.js';

/**
 * INTROSPECTION (default: on, except with NODE_ENV=production). When off,
 * a document that selects `__schema`, `__type` or anything of an
 * introspection type is refused before it runs (`FORBIDDEN`), and no error
 * on any transport suggests names ("Did you mean …?"), which would give
 * the schema away piece by piece. `__typename` stays allowed: clients need it.
 */
export function useIntrospectionPolicy(options: { introspection: boolean }): Plugin {
  if (options.introspection) return {};
  return {
    onValidate: ({ addValidationRule }) => {
      addValidationRule(noIntrospection);
      return ({ result, setResult }) => {
        if (result.some(hasSuggestion)) setResult(result.map(withoutSuggestion));
      };
    },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (isSingle(result) && result.errors?.some(hasSuggestion)) {
          setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
        }
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (isSingle(result) && result.errors?.some(hasSuggestion)) {
          setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
        }
      },
    }),
  };
}

const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const type = getNamedType(context.getType());
    if (type && isIntrospectionType(type)) {
      context.reportError(
        new GraphQLError(`Introspection is disabled on this server: "${node.name.value}" cannot be queried`, {
          nodes: node,
          extensions: { code: ErrorCode.Forbidden },
        }),
      );
    }
  },
});

const SUGGESTION = / ?Did you mean [^?]*\?/g;

function hasSuggestion(error: Error): boolean {
  return error.message.includes('Did you mean');
}

function withoutSuggestion<E extends Error>(original: E): E | GraphQLError {
  if (!hasSuggestion(original)) return original;
  const error = original as unknown as GraphQLError;
  return new GraphQLError(error.message.replace(SUGGESTION, '').trim(), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function isSingle(result: unknown): result is ExecutionResult {
  return typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);
}
