/**
 * A server in a process of its own, configured by its environment, for
 * tests that kill an instance outright (SIGKILL: no shutdown, no cleanup).
 * Prints `READY <url>` once it listens.
 */
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server/app.js';

const server = await startServer(loadConfig());
process.stdout.write(`READY ${server.url}\n`);
