/**
 * JWTs (HS256, jose). Tokens are signed with the CURRENT secret only and carry its `kid`, a short
 * fingerprint (first 8 hex of SHA-256 of the secret, never the secret); verification resolves the key
 * by `kid` among the current and, during the grace window, the previous secret. A token without `kid`
 * maps to the current key (tokens issued before kids existed).
 */
import { createHash, randomUUID } from 'node:crypto';
import { type JWTPayload, jwtVerify, SignJWT } from 'jose';

/**
 * The fingerprint of a secret used as `kid`: the first 8 hex digits of its SHA-256.
 *
 * @example
 * keyId(config.jwt.current); // '1a2b3c4d'
 */
export function keyId(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 8);
}

/** The signing key and the keys tokens may be verified with. */
export interface JwtKeys {
  readonly currentKid: string;
  readonly current: Uint8Array;
  readonly byKid: ReadonlyMap<string, Uint8Array>;
}

/**
 * The key set for a current secret and an optional previous one (empty: none).
 *
 * @example
 * const keys = jwtKeys(config.jwt.current, config.jwt.previous);
 */
export function jwtKeys(current: string, previous = ''): JwtKeys {
  const encode = (s: string) => new TextEncoder().encode(s);
  const byKid = new Map<string, Uint8Array>();
  if (previous !== '') byKid.set(keyId(previous), encode(previous));
  byKid.set(keyId(current), encode(current)); // wins should both fingerprints ever collide
  return { currentKid: keyId(current), current: encode(current), byKid };
}

/** What a verified token says. */
export interface TokenClaims {
  sub: string;
  sid: string;
  kid: string;
}

/**
 * Signs a token for `user` and session `sid`, valid for `ttlSeconds`.
 *
 * @example
 * const token = await signToken(keys, { sub: 'analyst', sid }, 3600);
 */
export async function signToken(
  keys: JwtKeys,
  claims: { sub: string; sid: string },
  ttlSeconds: number,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keys.currentKid })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .setJti(randomUUID())
    .sign(keys.current);
}

/**
 * Verifies a token; undefined when it is malformed, expired, signed with an unknown key or lacks
 * `sub`/`sid`.
 *
 * @example
 * const claims = await verifyToken(keys, bearer); // { sub: 'analyst', sid: '…', kid: '1a2b3c4d' }
 */
export async function verifyToken(keys: JwtKeys, token: string): Promise<TokenClaims | undefined> {
  let payload: JWTPayload;
  let kid: string;
  try {
    const result = await jwtVerify(
      token,
      async (header) => {
        const key = keys.byKid.get(header.kid ?? keys.currentKid);
        if (key === undefined) throw new Error('unknown kid');
        return key;
      },
      { algorithms: ['HS256'], requiredClaims: ['sub', 'exp', 'iat'] },
    );
    payload = result.payload;
    kid = result.protectedHeader.kid ?? keys.currentKid;
  } catch {
    return undefined;
  }
  const { sub, sid } = payload as { sub?: unknown; sid?: unknown };
  if (typeof sub !== 'string' || typeof sid !== 'string' || sid === '') return undefined;
  return { sub, sid, kid };
}

/**
 * A new session id (random, URL-safe).
 *
 * @example
 * const sid = newSessionId(); // 'k3J9…'
 */
export function newSessionId(): string {
  return randomUUID().replace(/-/g, '');
}
