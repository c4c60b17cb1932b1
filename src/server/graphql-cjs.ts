import { createRequire } from 'node:module';
import type * as GraphQLModule from 'graphql';

/**
 * graphql-js as the schema's own libraries load it (CommonJS, its `main`):
 * its `createSourceEventStream` checks that the schema comes from the same
 * copy, and a bundler or vite may hand a file the ESM copy instead. The
 * subscription paths that execute events themselves (the WebSocket
 * fan-out, SSE with offsets) take it from here.
 */
export const { createSourceEventStream, execute } = createRequire(import.meta.url)('graphql') as typeof GraphQLModule;
