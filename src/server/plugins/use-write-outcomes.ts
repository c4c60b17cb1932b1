import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isGraphQLError, outcomeUnknown } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { failureOutcome, trackWrites } from '../../storage/write-outcome.js';

/**
 * Tells an operation's caller the truth about its writes. Each execution
 * (queries and mutations, over HTTP and WebSocket alike) gets its own write
 * log; a Redis failure after one of its writes was sent becomes
 * `OUTCOME_UNKNOWN` (the write may have been applied), while one before any
 * write stays for the error masker, which answers `SERVICE_UNAVAILABLE`
 * ("not done, retry").
 */
export function useWriteOutcomes(logger: Logger): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const { result, log } = trackWrites(() => executeFn(args));
        const done = (await result) as ExecutionResult | AsyncIterable<unknown>;
        if (Symbol.asyncIterator in done || !done.errors?.length) return done;
        const errors = done.errors.map((error) => {
          if (isGraphQLError(original(error)) || failureOutcome(original(error), log) !== 'unknown') return error;
          logger.warn({ err: (original(error) as Error).message }, 'operation failed after a write: outcome unknown');
          const { message, extensions } = outcomeUnknown();
          return new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions });
        });
        return { ...done, errors };
      });
    },
  };
}

function original(error: GraphQLError): unknown {
  return error.originalError ?? error;
}
