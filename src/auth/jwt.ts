import {
  SignJWT,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import { createPublicKey } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Config } from '../config.js';
import { identityId, identityName, identityRoles } from './claims.js';
import type { Viewer } from './viewer.js';

/** Why a token was refused; safe to show to the client. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Turns a bearer token into a {@link Viewer}, or throws {@link InvalidTokenError}. */
export type VerifyToken = (token: string) => Promise<Viewer>;

const claimsSchema = z.object({
  sub: identityId,
  org: identityId,
  roles: identityRoles,
  name: identityName.optional(),
  exp: z.number(),
  iat: z.number().optional(),
});

const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256'];

/** Builds the verifier for the configured key source (secret, PEM public key or JWKS). */
export async function createTokenVerifier(jwt: Config['jwt']): Promise<VerifyToken> {
  const key = jwt.key;
  let getKey: Uint8Array | KeyObject | CryptoKey | JWTVerifyGetKey;
  let algorithms: string[];
  switch (key.kind) {
    case 'secret':
    case 'ephemeral':
      // Imported once: with the raw bytes jose imports the key again for every token (WebCrypto
      // importKey), a cost that dominated connection set-up in a reconnect storm.
      getKey = await crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(key.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      algorithms = ['HS256'];
      break;
    case 'publicKey': {
      const publicKey = createPublicKey(key.pem);
      getKey = publicKey;
      algorithms = [publicKey.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256'];
      break;
    }
    case 'jwks':
      getKey = createRemoteJWKSet(new URL(key.url));
      algorithms = ASYMMETRIC_ALGORITHMS;
      break;
  }
  const options = {
    algorithms,
    issuer: jwt.issuer,
    audience: jwt.audience,
    requiredClaims: ['exp'],
    // jose then requires `iat` and refuses one in the future; the lifetime itself is checked below.
    maxTokenAge: jwt.maxTokenAgeSeconds,
  };
  const maxLifetime = jwt.maxTokenAgeSeconds;
  const verified = new LRUCache<string, Viewer>({
    max: VERIFIED_TOKENS_KEPT,
    maxSize: VERIFIED_TOKENS_BYTES,
    sizeCalculation: (_viewer, token) => token.length + VIEWER_BYTES,
  });

  return async (token) => {
    const known = verified.get(token);
    if (known) return stillValid(known, maxLifetime);
    const viewer = await verify(token);
    verified.set(token, viewer, { ttl: Math.max(1, Math.min(viewer.expiresAt - Date.now(), VERIFIED_TOKEN_TTL_MS)) });
    return { ...viewer, roles: [...viewer.roles] };
  };

  async function verify(token: string): Promise<Viewer> {
    let payload: JWTPayload;
    try {
      ({ payload } =
        typeof getKey === 'function'
          ? await jwtVerify(token, getKey, options)
          : await jwtVerify(token, getKey, options));
    } catch (error) {
      throw new InvalidTokenError(describeJoseError(error));
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const field = String(claims.error.issues[0]?.path[0] ?? 'claims');
      throw new InvalidTokenError(`Token claim "${field}" is missing or invalid`);
    }
    const { sub, org, roles, name, exp, iat } = claims.data;
    if (maxLifetime !== undefined && (iat === undefined || exp - iat > maxLifetime)) {
      throw new InvalidTokenError(`Token lifetime (exp - iat) exceeds ${maxLifetime} seconds`);
    }
    return {
      id: sub,
      orgId: org,
      roles: [...new Set(roles)],
      name: name?.trim() || null,
      expiresAt: exp * 1000,
      ...(iat === undefined ? {} : { issuedAt: iat * 1000 }),
    };
  }
}

/**
 * Tokens verified by one verifier, kept so that a client's next requests
 * with the same token skip the signature check (a WebCrypto job on the
 * thread pool per request). Keyed by the whole token: the same bytes verify
 * the same way; only what depends on the time ({@link stillValid}) is
 * checked again, and each is verified afresh after
 * {@link VERIFIED_TOKEN_TTL_MS}. Revocations are checked by the caller on
 * every use. Only tokens that verified are kept, so a stranger's junk
 * costs nothing here.
 */
const VERIFIED_TOKENS_KEPT = 10_000;
/** At most this many bytes of tokens kept (a token's size is only bounded by the header or payload limit). */
const VERIFIED_TOKENS_BYTES = 8 * 1024 * 1024;
/** What a kept token's viewer is counted as, besides the token itself. */
const VIEWER_BYTES = 200;
/**
 * A kept token is verified again after this long (sooner when it expires):
 * with a JWKS, a signing key the identity provider withdraws then stops
 * being honoured within jose's key-set refresh (10 minutes) plus this.
 */
const VERIFIED_TOKEN_TTL_MS = 5 * 60_000;

/** A verified token's viewer, as long as its `exp` and the maximum token age still allow it (jose's rules). */
function stillValid(viewer: Viewer, maxTokenAgeSeconds: number | undefined): Viewer {
  // In whole seconds, as jose compares them.
  const now = Math.floor(Date.now() / 1000);
  if (viewer.expiresAt / 1000 <= now) throw new InvalidTokenError('Token has expired');
  if (maxTokenAgeSeconds !== undefined && now - viewer.issuedAt! / 1000 > maxTokenAgeSeconds) {
    throw new InvalidTokenError('Token has expired');
  }
  return { ...viewer, roles: [...viewer.roles] };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'Token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.reason === 'missing') {
    return `Token claim "${error.claim}" is missing`;
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `Token claim "${error.claim}" is invalid`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'Token signature is invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'Token algorithm is not accepted';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'Token key is unknown';
  return 'Token is malformed or cannot be verified';
}

/** Claims of a token minted by {@link signDevelopmentToken}. */
export interface TokenClaims {
  sub: string;
  org: string;
  roles: Viewer['roles'];
  name?: string;
}

/**
 * Mints an HS256 token with the configured secret: for development tokens
 * printed at start-up, and for tests. Not available with asymmetric keys,
 * whose private half the server never holds.
 */
export async function signDevelopmentToken(
  jwt: Config['jwt'],
  claims: TokenClaims,
  expiresIn: string | number = '12h',
): Promise<string> {
  if (jwt.key.kind !== 'secret' && jwt.key.kind !== 'ephemeral') {
    throw new Error('Tokens can only be minted with a shared secret');
  }
  let builder = new SignJWT({
    org: claims.org,
    roles: [...claims.roles],
    ...(claims.name ? { name: claims.name } : {}),
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (jwt.issuer) builder = builder.setIssuer(jwt.issuer);
  if (jwt.audience) builder = builder.setAudience(jwt.audience);
  return builder.sign(new TextEncoder().encode(jwt.key.secret));
}

/** The token in `Bearer <jwt>` (any case), or the value itself when it has no scheme. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^\s*(?:bearer\s+)?(\S+)\s*$/i.exec(header);
  return match?.[1];
}
