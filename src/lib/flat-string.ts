/**
 * The same text as one flat string. V8 keeps a string built piece by piece
 * (`+`, a template literal, `JSON.stringify`'s output, Node's own
 * `randomUUID()`) as a rope: a tree of pieces, about 480 bytes for a UUID
 * whose text takes 56. A string
 * kept for a connection's or a subscription's life is worth copying once
 * into a single piece (bench/heap.ts counts what each connection holds).
 */
export function flatString(text: string): string {
  // A JSON round trip is exact for every string (lone surrogates included); JSON.parse makes one piece.
  return JSON.parse(JSON.stringify(text)) as string;
}
