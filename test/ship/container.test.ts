import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { ok, TEST_JWT_SECRET, tokenFor, uniquePrefix, user } from '../support/harness.js';
import { freePort } from '../support/redis-server.js';
import { build, exec, listeningUrl, remoteServer, ROOT, startProcess, waitFor } from './support.js';

/** One stage of the Dockerfile: its name and instructions (continuation lines joined). */
interface Stage {
  name: string | undefined;
  instructions: { op: string; args: string }[];
}

function dockerfileStages(): Stage[] {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of text.split('\n')) {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!match || line.trim().startsWith('#')) continue;
    const [, op, args] = match as unknown as [string, string, string];
    if (op === 'FROM') stages.push({ name: / AS (\S+)$/i.exec(args)?.[1], instructions: [] });
    else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

/**
 * No container engine can pull a base image here (no registry is
 * reachable), so the image is checked by doing what the Dockerfile does:
 * its final stage's files assembled as it copies them (production
 * dependencies installed as its `deps` stage installs them, `dist/` from
 * the build), then its CMD and HEALTHCHECK run from there, and the compose
 * file's worker command beside it.
 */
describe('the container image, assembled as the Dockerfile assembles it', () => {
  const app = mkdtempSync(join(tmpdir(), 'rt-image-'));
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('runs as non-root node (exec form, no npm), with production dependencies only, healthy, stopping on SIGTERM', async () => {
    const stages = dockerfileStages();
    const final = stages.at(-1)!;
    const deps = stages.find((stage) => stage.name === 'deps')!;
    const arg = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
    expect(arg(final, 'USER')).toEqual(['node']);
    const cmd = JSON.parse(arg(final, 'CMD')[0]!) as string[];
    expect(cmd).toEqual(['node', 'dist/main.js']);
    const healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(arg(final, 'HEALTHCHECK')[0]!)![1]!) as string[];
    const env = Object.fromEntries(
      arg(final, 'ENV').flatMap((args) => args.split(/\s+/).map((pair) => pair.split('=') as [string, string])),
    );
    expect(env.NODE_ENV).toBe('production');

    // The final stage's COPY lines, in order.
    await build();
    for (const args of arg(final, 'COPY')) {
      const from = /--from=(\S+)/.exec(args)?.[1];
      const [source, target] = args.replace(/--from=\S+\s*/, '').split(/\s+/) as [string, string];
      const destination = target.endsWith('/') ? join(app, target, basename(source)) : join(app, target);
      if (from === 'deps') {
        // The deps stage: its package files, then its `npm ci` (never its cache cleaning: that is this machine's cache).
        for (const file of arg(deps, 'COPY')[0]!.split(/\s+/).slice(0, -1)) cpSync(join(ROOT, file), join(app, file));
        const install = arg(deps, 'RUN')[0]!
          .split('&&')
          .map((part) => part.trim())
          .find((part) => part.startsWith('npm ci'))!;
        expect(install).toContain('--omit=dev');
        const [command, ...installArgs] = install.split(/\s+/) as [string, ...string[]];
        await exec(command, [...installArgs, '--prefer-offline'], app);
      } else if (from === 'build') {
        expect(source).toBe('/app/dist');
        mkdirSync(destination, { recursive: true });
        cpSync(join(ROOT, 'dist'), destination, { recursive: true });
      } else {
        cpSync(join(ROOT, source), destination, { recursive: true });
      }
    }
    // Nothing of the dev toolchain is in the image.
    await expect(exec(process.execPath, ['-e', "require.resolve('typescript')"], app)).rejects.toThrow();

    const port = String(await freePort());
    const runtimeEnv = {
      ...env,
      PORT: port,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      JWT_SECRET: TEST_JWT_SECRET,
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
    };
    const [command, ...args] = cmd as [string, ...string[]];
    const server = startProcess(command === 'node' ? process.execPath : command, args, runtimeEnv, app);
    const url = await waitFor(() => listeningUrl(server.stdout()), `the server to listen: ${server.stderr()}`);
    const token = await tokenFor(user('agent-1', ['agent'], 'org-image'));
    expect(await ok(remoteServer(url), '{ me { id } }', {}, token)).toEqual({ me: { id: 'agent-1' } });
    const [checkCommand, ...checkArgs] = healthcheck as [string, ...string[]];
    await exec(checkCommand === 'node' ? process.execPath : checkCommand, checkArgs, app, { PORT: port });

    // compose.yaml: Redis with AOF and noeviction, two servers and a worker of this image.
    const compose = parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string> }>;
    };
    const redisCommand = compose.services.redis!.command!.join(' ');
    expect(redisCommand).toContain('--appendonly yes');
    expect(redisCommand).toContain('--maxmemory-policy noeviction');
    const ours = Object.values(compose.services).filter((service) => service.image === 'realtime-graphql-server');
    expect(ours.filter((service) => !service.command)).toHaveLength(2);
    const workerCommand = ours.find((service) => service.command)!.command!;
    expect(workerCommand).toEqual(['node', 'dist/worker/main.js']);
    const worker = startProcess(process.execPath, workerCommand.slice(1), runtimeEnv, app);
    await waitFor(() => (worker.stdout().includes('"msg":"worker started"') ? true : undefined), 'the worker');

    server.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  }, 240_000);
});
