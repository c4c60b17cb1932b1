/**
 * Builds `@realtime-graphql/publisher` from the server's own sources: one
 * ESM and one CommonJS file (esbuild; the runtime dependencies stay
 * external, listed in this package's package.json), the same for its
 * `./client` entry (the front end's resume helper), and the type
 * declarations tsc emitted into the root `dist/` (run `npm run build`, which
 * calls this after tsc). `npm pack packages/publisher` then makes the tarball.
 */
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const manifest = JSON.parse(readFileSync(here('./package.json'), 'utf8')) as { dependencies: Record<string, string> };
const out = here('./dist/');

/** One entry point as `<name>.js` (ESM) and `<name>.cjs` (CommonJS). */
async function bundle(
  name: string,
  entry: string,
  options: { platform: 'node' | 'neutral'; target: string; external: string[] },
) {
  for (const format of ['esm', 'cjs'] as const) {
    await build({
      entryPoints: [here(entry)],
      outfile: `${out}${name}.${format === 'esm' ? 'js' : 'cjs'}`,
      bundle: true,
      format,
      logLevel: 'warning',
      ...options,
    });
  }
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await bundle('index', '../../src/publisher/index.ts', {
  platform: 'node',
  target: 'node20',
  external: Object.keys(manifest.dependencies),
});
// `@realtime-graphql/publisher/client`, for front ends: platform neutral (browsers, React Native, Node), and
// nothing of the publisher's (no ioredis in a browser bundle); graphql-ws is the app's own (a peer).
await bundle('client', '../../src/client/index.ts', {
  platform: 'neutral',
  target: 'es2020',
  external: ['graphql-ws'],
});
// Only declarations: the package's code is the bundles above.
cpSync(here('../../dist/'), `${out}types/`, {
  recursive: true,
  filter: (source) => !/\.(js|js\.map|tsbuildinfo)$/.test(source) && !source.endsWith('.d.ts.map'),
});
