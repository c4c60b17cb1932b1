import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dispose, TEST_JWT_SECRET, type TestServer } from './harness.js';

const MAIN = fileURLToPath(new URL('./child-server-main.ts', import.meta.url));

/** A server in a child process, and how to kill it without any cleanup. */
export interface ChildServer extends Pick<TestServer, 'url' | 'graphqlUrl' | 'wsUrl'> {
  /** SIGKILL: sockets drop, nothing is unsubscribed, heartbeats just stop. Resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts an instance in its own process on `redisUrl` with key `prefix`
 * (to join a cluster of in-process test servers), killed after the test.
 * Usable wherever the harness takes a server (`gql`, `wsClient`, `subscribeWs`).
 */
export async function startChildServer(options: {
  redisUrl: string;
  prefix: string;
  env?: Record<string, string>;
}): Promise<ChildServer & TestServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      REDIS_URL: options.redisUrl,
      REDIS_PREFIX: options.prefix,
      METRICS_PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  dispose(kill);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child server did not start within 15 s')), 15_000);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`child server exited before it was ready: ${output}`));
    });
  });
  // The harness helpers read only the URLs of a server.
  return {
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    kill,
  } as ChildServer & TestServer;
}
