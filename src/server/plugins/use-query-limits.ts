import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Limits } from '../../config.js';
import { ErrorCode } from '../../errors.js';

/**
 * The document limits of GraphQL Armor (MAX_DEPTH, MAX_ALIASES,
 * MAX_DIRECTIVES, MAX_TOKENS, MAX_COST), run in the one pipeline, so they
 * hold for HTTP, SSE and WebSocket operations alike. A document over a
 * limit never executes: it is answered `BAD_USER_INPUT` with
 * `extensions.limit` naming the limit (HTTP 400).
 */
export function useQueryLimits(limits: Limits): Plugin {
  const reject = (limit: string) => ({
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(
          new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
            extensions: { code: ErrorCode.BadUserInput, limit },
          }),
        );
      },
    ],
  });
  return EnvelopArmorPlugin({
    // Suggestions are handled by useIntrospectionPolicy, for every kind of error.
    blockFieldSuggestion: { enabled: false },
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...reject('maxDepth') },
    maxAliases: { n: limits.maxAliases, allowList: [], ...reject('maxAliases') },
    maxDirectives: { n: limits.maxDirectives, ...reject('maxDirectives') },
    costLimit: {
      maxCost: limits.maxCost,
      objectCost: 2,
      scalarCost: 1,
      depthCostFactor: 1.5,
      flattenFragments: true,
      ignoreIntrospection: true,
      ...reject('maxCost'),
    },
    // The parser cannot report into a validation context: it throws, and
    // useRequestErrorCodes gives that error BAD_USER_INPUT.
    maxTokens: { n: limits.maxTokens },
  }) as Plugin;
}
