import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD_DIR = join(ROOT, 'bench/.build');

/**
 * Compiles our server (through its public entry, src/main.ts) and every
 * bench process the same way: one esbuild bundle each, packages left in
 * node_modules, run by plain `node`. No TypeScript loader on any hot path,
 * so all four servers pay the same (nil) loader cost.
 */
export async function buildAll(): Promise<{
  ours: string;
  heapServer: string;
  peer: (name: string) => string;
  worker: string;
}> {
  const entries: Record<string, string> = {
    'app/src/main': 'src/main.ts',
    // Beside main, so it finds ../schema and ../../public as main does.
    'app/src/heap-server': 'bench/lib/heap-server.ts',
    'peers/socketio': 'bench/peers/socketio.ts',
    'peers/graphql-plain': 'bench/peers/graphql-plain.ts',
    'peers/ws-floor': 'bench/peers/ws-floor.ts',
    'client/worker': 'bench/client/worker.ts',
    'lib/orphan-guard': 'bench/lib/orphan-guard.ts',
  };
  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, join(ROOT, src)])),
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  // Files our server reads relative to itself, laid out as in the repository: src/schema.ts
  // reads ../schema/*.graphql, src/status/page.ts ../../public/status/ (both from the bundle's path).
  mkdirSync(join(BUILD_DIR, 'app/schema'), { recursive: true });
  cpSync(join(ROOT, 'schema'), join(BUILD_DIR, 'app/schema'), { recursive: true });
  cpSync(join(ROOT, 'public'), join(BUILD_DIR, 'public'), { recursive: true });
  return {
    ours: join(BUILD_DIR, 'app/src/main.mjs'),
    heapServer: join(BUILD_DIR, 'app/src/heap-server.mjs'),
    peer: (name) => join(BUILD_DIR, `peers/${name}.mjs`),
    worker: join(BUILD_DIR, 'client/worker.mjs'),
  };
}

export const orphanGuard = () => join(BUILD_DIR, 'lib/orphan-guard.mjs');
export const buildDirOf = (file: string) => dirname(file);
