import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * Heap a parsed document holds per lexical token (AST nodes, locations and
 * the token list they keep), measured at 360 to 510 bytes with graphql 16.
 */
const BYTES_PER_TOKEN = 512;

/** What yoga's `parserAndValidationCache` option takes. */
export interface DocumentCaches {
  documentCache: { get(source: string): DocumentNode | undefined; set(source: string, document: DocumentNode): void };
  errorCache: { get(source: string): unknown; set(source: string, error: unknown): void };
  validationCache: true;
}

/**
 * yoga's parsed-document and parse-error caches, as one LRU bounded by the
 * memory its entries hold (`maxBytes`, DOCUMENT_CACHE_MAX_BYTES) rather
 * than by their number: yoga's default keeps 1000 documents of any size, so
 * distinct multi-megabyte documents (whitespace and comments are not
 * tokens) could make it hold gigabytes. An entry weighs its source (the
 * key, characters taken as bytes) plus an estimate of its syntax tree; one
 * heavier than the whole budget is not cached. Validation results live as
 * long as their document (yoga keys them by it, weakly).
 */
export function createDocumentCaches(maxBytes: number): DocumentCaches {
  const entries = new LRUCache<string, { document: DocumentNode } | { error: unknown }>({
    maxSize: maxBytes,
    sizeCalculation: (entry, source) =>
      1 + source.length + ('document' in entry ? treeBytes(entry.document, source) : 0),
  });
  return {
    documentCache: {
      get: (source) => {
        const entry = entries.get(source);
        return entry && 'document' in entry ? entry.document : undefined;
      },
      set: (source, document) => void entries.set(source, { document }),
    },
    errorCache: {
      get: (source) => {
        const entry = entries.get(source);
        return entry && 'error' in entry ? entry.error : undefined;
      },
      set: (source, error) => void entries.set(source, { error }),
    },
    validationCache: true,
  };
}

/** Estimated heap of a document's syntax tree, from its tokens (at most one per two characters without locations). */
function treeBytes(document: DocumentNode, source: string): number {
  if (!document.loc) return Math.ceil(source.length / 2) * BYTES_PER_TOKEN;
  let tokens = 0;
  for (let token: typeof document.loc.startToken | null = document.loc.startToken; token; token = token.next) tokens++;
  return tokens * BYTES_PER_TOKEN;
}
