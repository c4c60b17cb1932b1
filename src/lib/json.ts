import { GraphQLError, GraphQLScalarType, type ValueNode } from 'graphql';
import { JSONResolver } from 'graphql-scalars';
import { ErrorCode } from '../errors.js';

/**
 * Deepest nesting of objects and arrays a JSON value from outside may have
 * (`{"a":[1]}` nests 2). Plenty for any payload a person designs; a value
 * nested thousands deep (a few KB) would overflow the stack of whatever
 * walks it next (copying, storing, serialising).
 */
export const MAX_JSON_DEPTH = 32;

/** True when `value` nests objects and arrays deeper than `max`. Iterative, so any depth is safe to check. */
export function exceedsJsonDepth(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}

const tooDeep = (nodes?: ValueNode) =>
  new GraphQLError(`JSON values may nest at most ${MAX_JSON_DEPTH} levels of objects and arrays`, {
    nodes,
    extensions: { code: ErrorCode.BadUserInput },
  });

/**
 * The `JSON` scalar (graphql-scalars), refusing values nested deeper than
 * {@link MAX_JSON_DEPTH}, from variables and inline literals alike, before
 * any resolver sees them: `BAD_USER_INPUT` on every transport.
 */
export const BoundedJSONResolver = new GraphQLScalarType({
  ...JSONResolver.toConfig(),
  parseValue(value) {
    if (exceedsJsonDepth(value)) throw tooDeep();
    return JSONResolver.parseValue(value);
  },
  parseLiteral(ast, variables) {
    const value: unknown = JSONResolver.parseLiteral(ast, variables);
    if (exceedsJsonDepth(value)) throw tooDeep(ast);
    return value;
  },
});
