import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support.js';

/** A code block of the README marked `<!-- snippet: name -->`. */
export interface Snippet {
  name: string;
  lang: string;
  code: string;
}

/** Every marked snippet of the README, in order. */
export function readmeSnippets(): Snippet[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/<!-- snippet: (\S+) -->\s*```(\w+)\n([\s\S]*?)\n```/g)].map((m) => ({
    name: m[1]!,
    lang: m[2]!,
    code: m[3]!,
  }));
}

/** README code blocks that use a client or the publisher but are not marked (so no test runs them). */
export function unmarkedClientCode(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/(<!-- snippet: \S+ -->\s*)?```(?:ts|js|tsx|jsx)\n([\s\S]*?)\n```/g)]
    .filter((m) => !m[1] && /createClient|createPublisher|new Client\(|ApolloClient/.test(m[2]!))
    .map((m) => m[2]!.split('\n')[0]!);
}

/** The snippet named `name`; throws when the README lost it. */
export function snippet(name: string): Snippet {
  const found = readmeSnippets().find((s) => s.name === name);
  if (!found) throw new Error(`README.md has no snippet "${name}"`);
  return found;
}
