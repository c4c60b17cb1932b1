import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support.js';

const semver = createRequire(import.meta.url)('semver') as { satisfies(version: string, range: string): boolean };

/**
 * A quiet install: no package in the lockfile (production or development)
 * declares a Node range that our own `engines` floor, or the current Node
 * LTS lines, fall outside of (npm would print EBADENGINE for it).
 */
describe('install on every supported Node', () => {
  it('has no locked package whose engines exclude Node 20.19, 22 or 24', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const floor = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
      .engines.node;
    expect(floor).toBe('>=20.19');
    const refused = Object.entries(lock.packages).flatMap(([path, { version, engines }]) => {
      const range = !Array.isArray(engines) ? engines?.node : undefined;
      if (!range) return [];
      return ['20.19.0', '22.13.0', '24.0.0']
        .filter((node) => !semver.satisfies(node, range))
        .map((node) => `${path}@${version} wants node ${range}, not ${node}`);
    });
    expect(refused).toEqual([]);
  });
});
