import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { dispose, type TestServer } from '../support/harness.js';

/** The repository's root: where `npm start` and `npm run build` run. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const run = promisify(execFile);

/**
 * `npm run build` (tsc into `dist/`, then the publisher package), as a user
 * or the Dockerfile runs it. Test files run in parallel processes: a lock
 * directory keeps two builds from writing `dist/` at once.
 */
export async function build(): Promise<void> {
  const lock = join(ROOT, 'node_modules', '.test-build-lock');
  for (const deadline = Date.now() + 300_000; ;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw error;
      // A lock older than any build is a leftover of a killed run.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000)
        rmSync(lock, { force: true, recursive: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await run('npm', ['run', '--silent', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  } finally {
    rmSync(lock, { force: true, recursive: true });
  }
}

/** Runs a command to completion; rejects with its output when it fails. */
export async function exec(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return run(command, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
}

/** A process under test, its output so far, and its exit. Killed (SIGKILL) after the test if still alive. */
export interface RunningProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

/** Spawns `command` with `env` on top of a minimal environment (PATH, HOME). */
export function startProcess(command: string, args: string[], env: Record<string, string>, cwd = ROOT): RunningProcess {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  dispose(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Polls `probe` until it returns a value. */
export async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The URL a server process logged in its `server listening` line. */
export function listeningUrl(output: string): string | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"server listening"')) continue;
    const url = (JSON.parse(line) as { url: string }).url;
    return url.replace(/\/graphql$/, '');
  }
  return undefined;
}

/** What the harness helpers (`gql`, `wsClient`, `subscribeWs`, `health`) need of a server: its URLs. */
export function remoteServer(url: string): TestServer {
  return { url, graphqlUrl: `${url}/graphql`, wsUrl: `${url.replace(/^http/, 'ws')}/graphql` } as TestServer;
}

/** Pids of every live process whose environment holds `marker` (Linux /proc). */
export function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** True when nothing accepts connections on `url`'s port any more. */
export async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}
