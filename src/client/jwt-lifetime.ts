import { isRecord } from './socket.js';

/** When a JWT was issued and expires, in epoch milliseconds (`issuedAt` undefined without `iat`). */
export interface JwtLifetime {
  issuedAt?: number;
  expiresAt: number;
}

/**
 * Reads `exp` (and `iat`) from a JWT's payload without verifying it: the
 * client only needs to know when to fetch a new token, the server verifies.
 * Undefined for anything that is not a JWT with a numeric `exp`.
 */
export function jwtLifetime(token: string): JwtLifetime | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  let claims: unknown;
  try {
    // base64url to base64; atob exists in browsers and Node alike.
    claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return undefined;
  }
  if (!isRecord(claims) || typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return undefined;
  const issuedAt = typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat * 1000 : undefined;
  return { issuedAt, expiresAt: claims.exp * 1000 };
}
