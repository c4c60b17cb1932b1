import { InvalidTokenError, type VerifyToken } from '../auth/jwt.js';
import type { Viewer } from '../auth/viewer.js';
import { isFromTheFuture } from '../lib/clock.js';
import { keyPart } from '../lib/keys.js';
import type { Storage } from '../storage/index.js';

/** One user's revocation: tokens issued at or before `revokedAt` are refused. */
interface RevocationRecord {
  /** `keyPart(orgId):keyPart(userId)`. */
  id: string;
  orgId: string;
  userId: string;
  /** Epoch milliseconds. */
  revokedAt: number;
}

/** Index of every revocation, scored by when it may be forgotten. */
const BY_EXPIRY = 'by-expiry';

/**
 * How long a revocation is kept when JWT_MAX_TOKEN_AGE_SECONDS is unset
 * (no token lifetime is then bounded): 30 days. With it set, a revocation
 * is kept exactly that long, past which every token it covers has expired.
 */
export const DEFAULT_REVOCATION_TTL_SECONDS = 30 * 86_400;

/** Revoked tokens (see {@link createRevocations}). */
export type Revocations = ReturnType<typeof createRevocations>;

/**
 * Token revocations: per user, the moment before which (to the second,
 * as `iat` counts) their tokens are refused. Stored in the shared storage
 * (Redis), so they survive restarts and reach every instance; each instance
 * also holds them all in memory, so authentication never waits on Redis:
 * loaded at start ({@link Revocations.reload}: a server does not start
 * without them), fed by the admin channel as they happen, and reloaded
 * periodically by the admin service to catch any message missed while an
 * instance's subscriber connection was down. A revocation is forgotten
 * `ttlSeconds` after it was made (swept at each reload), when every token
 * it covers has expired anyway.
 *
 * A token without `iat` cannot prove it was issued after a revocation: it
 * is refused while one is kept for its user.
 */
export function createRevocations(options: { storage: Storage; ttlSeconds?: number }) {
  const { storage, ttlSeconds = DEFAULT_REVOCATION_TTL_SECONDS } = options;
  const ttlMs = ttlSeconds * 1000;
  const records = storage.collection<RevocationRecord>('token-revocations');
  /** `revokedAt` by record id: what authentication reads. */
  const known = new Map<string, number>();
  const idOf = (orgId: string, userId: string) => `${keyPart(orgId)}:${keyPart(userId)}`;

  /**
   * Keeps the latest revocation of a user in memory; false when it is
   * already known (or older), lapsed, or from the future: revocations come
   * over Redis (untrusted), and one dated ahead of every instance's clock
   * was made by none of them; kept, it would refuse the user's every new
   * token for as long as it lasts.
   */
  const learn = (orgId: string, userId: string, revokedAt: number): boolean => {
    const id = idOf(orgId, userId);
    const now = Date.now();
    if ((known.get(id) ?? -1) >= revokedAt || revokedAt + ttlMs <= now || isFromTheFuture(revokedAt, now)) return false;
    known.set(id, revokedAt);
    return true;
  };

  /** The moment before which the viewer's tokens are refused, if any. */
  const revokedAt = (viewer: Pick<Viewer, 'orgId' | 'id'>): number | undefined => {
    const id = idOf(viewer.orgId, viewer.id);
    const at = known.get(id);
    if (at === undefined) return undefined;
    if (at + ttlMs > Date.now()) return at;
    known.delete(id);
    return undefined;
  };

  return {
    /** True when the viewer's token is refused: issued (`iat`, whole seconds) at or before a revocation, or without `iat`. */
    refuses(viewer: Viewer): boolean {
      const at = revokedAt(viewer);
      if (at === undefined) return false;
      return viewer.issuedAt === undefined || viewer.issuedAt <= at;
    },

    /** Stores a revocation of every token of a user issued until now; resolves its moment (epoch ms). */
    async revoke(orgId: string, userId: string): Promise<number> {
      const at = Date.now();
      const id = idOf(orgId, userId);
      const indexes = (record: RevocationRecord) => [{ index: BY_EXPIRY, score: record.revokedAt + ttlMs }];
      const record: RevocationRecord = { id, orgId, userId, revokedAt: at };
      if (!(await records.insert(record, indexes(record)))) {
        await records.update(
          id,
          (current) => (current.revokedAt >= at ? undefined : { ...current, revokedAt: at }),
          indexes,
        );
      }
      learn(orgId, userId, at);
      return at;
    },

    /** Takes a revocation heard from another instance; true when it was new here. */
    learn,

    /**
     * Forgets lapsed revocations (in storage too) and loads every other
     * one; resolves those that were new here (missed, or at start).
     */
    async reload(): Promise<{ orgId: string; userId: string; revokedAt: number }[]> {
      const lapsed = await records.ids(BY_EXPIRY, { below: Date.now() });
      for (const id of lapsed) await records.remove(id, [BY_EXPIRY]);
      const fresh = (await records.list(BY_EXPIRY)).filter((record) =>
        learn(record.orgId, record.userId, record.revokedAt),
      );
      for (const [id, at] of known) if (at + ttlMs <= Date.now()) known.delete(id);
      return fresh.map(({ orgId, userId, revokedAt }) => ({ orgId, userId, revokedAt }));
    },
  };
}

/** A token verifier that also refuses revoked tokens (HTTP 401, WebSocket 4403), from memory. */
export function refusingRevoked(verify: VerifyToken, revocations: Pick<Revocations, 'refuses'>): VerifyToken {
  return async (token) => {
    const viewer = await verify(token);
    if (revocations.refuses(viewer)) throw new InvalidTokenError('Token has been revoked');
    return viewer;
  };
}
