import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { dispose } from '../support/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `src/main.ts` as `npm start` does, with `env` on top of a clean environment. */
function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DEV_STATE_FILE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  dispose(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, exited, output: () => ({ stdout, stderr }) };
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function sigterm(child: ChildProcess) {
  child.kill('SIGTERM');
}

describe('the server process', () => {
  it('stops at once with one line naming a bad variable', async () => {
    const run = startProcess({ PORT: 'eighty' });
    expect(await run.exited).toBe(1);
    expect(run.output().stderr.trim()).toBe(
      'Configuration error: PORT must be a whole number from 0 to 65535 (got "eighty")',
    );
  });

  it('prints GraphiQL and working development tokens, then shuts down gracefully on SIGTERM', async () => {
    const run = startProcess({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    const url = await waitFor(() => /GraphiQL: (http:\/\/\S+)\/graphql/.exec(run.output().stdout)?.[1], 'GraphiQL URL');
    const tokens = Object.fromEntries(
      [...run.output().stdout.matchAll(/^ {2}(agent|admin|service) +(\S+)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(tokens).sort()).toEqual(['admin', 'agent', 'service']);

    const me = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.admin}` },
      body: JSON.stringify({ query: '{ me { roles } }' }),
    });
    expect(await me.json()).toEqual({ data: { me: { roles: ['ADMIN'] } } });

    const graphiql = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain('<title>Realtime GraphQL</title>');

    const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${tokens.agent}` } }));
    await new Promise((resolve) => socket.once('message', resolve));

    const started = Date.now();
    sigterm(run.child);
    expect(await closed).toBe(1001);
    expect(await run.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(run.output().stdout).toContain('"msg":"shut down"');
  });
});
