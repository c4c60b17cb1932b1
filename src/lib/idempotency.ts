import { createHash } from 'node:crypto';
import { badInput } from '../errors.js';
import type { Storage } from '../storage/index.js';
import { newId } from './ids.js';

/** How long an idempotency key is remembered: the contract asks for at least 24 hours. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The longest idempotency key (and `clientMessageId`) accepted. */
export const IDEMPOTENCY_KEY_MAX_CHARS = 128;

/**
 * A client's idempotency key: 1 to 128 characters, no control characters,
 * no surrounding spaces; null when absent. BAD_USER_INPUT naming `field`.
 */
export function idempotencyKey(value: string | null | undefined, field = 'idempotencyKey'): string | null {
  if (value === null || value === undefined) return null;
  if (
    value.length === 0 ||
    value.length > IDEMPOTENCY_KEY_MAX_CHARS ||
    value.trim() !== value ||
    /\p{Cc}/u.test(value)
  ) {
    throw badInput(
      `${field} must have 1 to ${IDEMPOTENCY_KEY_MAX_CHARS} characters, without control characters or surrounding spaces`,
      field,
    );
  }
  return value;
}

/** A stable, bounded name for a list of parts (ids from tokens and clients may hold anything). */
export function digest(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** What {@link createOnce} needs to know about one create. */
export interface OnceOptions<T> {
  /**
   * The claim that names this create: the same for every retry of it (e.g.
   * {@link idempotencyScope}). Undefined: no key was given, the create just runs.
   */
  claim: string | undefined;
  /**
   * The arguments of the call, when a reuse of the key with other arguments
   * must be refused (`BAD_USER_INPUT`, field `field`) rather than answered
   * with the first call's resource.
   */
  args?: unknown;
  /** Field named by that refusal (default `idempotencyKey`). */
  field?: string;
  /** The resource made under `id`, if it exists. */
  find(id: string): Promise<T | undefined>;
  /**
   * Makes the resource under `id`, with an insert that succeeds once per id;
   * undefined when another call's insert of that id won (a racing duplicate).
   */
  create(id: string): Promise<T | undefined>;
  /**
   * Re-runs, for a retry that finds the resource, what its first call did
   * after the insert (follow-up events publishing absolute state), unless
   * that call (or an earlier retry) got to its end: a first call that failed
   * half-way loses nothing for good, and one that finished is not repeated.
   * (Every call that gets to its end marks the key finished, so a retry that
   * finds the resource deleted since is refused rather than making it again.)
   */
  repeat?(existing: T): Promise<void>;
}

/**
 * Creates a resource at most once per idempotency key. The first call
 * claims an id for the key (kept {@link IDEMPOTENCY_TTL_MS}, with a digest
 * of its arguments); every later call with the key gets that id, returns
 * the resource made under it (re-running its follow-ups), or, when the
 * first call never got as far as the insert, makes it. Racing duplicates
 * share the id, and the insert lets one of them win.
 */
export async function createOnce<T>(storage: Storage, options: OnceOptions<T>): Promise<T> {
  const { claim, find, create, repeat } = options;
  if (claim === undefined) {
    const made = await create(newId());
    if (!made) throw new Error('A new id was taken');
    return made;
  }
  const fingerprint = options.args === undefined ? undefined : digest([options.args]);
  const held = parseClaim(await storage.claim(claim, JSON.stringify({ id: newId(), fingerprint }), IDEMPOTENCY_TTL_MS));
  if (fingerprint !== undefined && held.fingerprint !== fingerprint) {
    const field = options.field ?? 'idempotencyKey';
    throw badInput(`${field} was already used with different arguments: use a new key for a new request`, field);
  }
  const finished = `${claim}:finished`;
  const completed = async (resource: T) => {
    await storage.claim(finished, '1', IDEMPOTENCY_TTL_MS);
    return resource;
  };
  const repeated = async (resource: T) => {
    if (repeat && (await storage.peek(finished)) === undefined) await repeat(resource);
    return completed(resource);
  };
  const existing = await find(held.id);
  if (existing) return repeated(existing);
  // Finished by an earlier call (which inserted before it marked the key):
  // the resource is there, unless it has been deleted since, and then a retry
  // must not bring it back.
  if ((await storage.peek(finished)) !== undefined) {
    const found = await find(held.id);
    if (found) return found;
    throw gone(options.field);
  }
  const made = await create(held.id);
  if (made) return completed(made);
  // A duplicate racing this call inserted first: its resource is the one.
  const winner = await find(held.id);
  // Inserted, but deleted since, or no longer the caller's to see.
  if (!winner) throw gone(options.field);
  return repeated(winner);
}

/** What a retry hears when what its key made is gone (deleted, or no longer the caller's to see). */
function gone(field = 'idempotencyKey') {
  return badInput(`What was made with this ${field} is gone: use a new key for a new request`, field);
}

/**
 * The claim of an idempotency key: one per organisation, user, mutation
 * and key, so nobody's key can collide with anyone else's.
 */
export function idempotencyScope(
  viewer: { orgId: string; id: string },
  operation: string,
  key: string | null,
): string | undefined {
  return key === null ? undefined : `idempotency:${digest([viewer.orgId, viewer.id, operation, key])}`;
}

function parseClaim(value: string): { id: string; fingerprint?: string } {
  // Claims made before fingerprints were recorded hold the bare id.
  if (!value.startsWith('{')) return { id: value };
  return JSON.parse(value) as { id: string; fingerprint?: string };
}
