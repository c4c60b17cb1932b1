/**
 * What bench/heap.ts runs our server with, bundled like the bench's own
 * server (esbuild, no `keepNames`): under tsx every function gets an own
 * `name` property, 256 bytes more per closure than `npm start` holds.
 */
export { loadConfig } from '../../src/config.js';
export { startServer } from '../../src/server/app.js';
