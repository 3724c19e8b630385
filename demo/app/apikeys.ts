/**
 * The `X-API-Key` check: the presented key must equal API_SECRET_KEY or, during the grace window,
 * API_SECRET_KEY_PREVIOUS (when non-empty). Both are always compared, each in constant time on
 * equal-length buffers (SHA-256 digests), so neither the length of a key nor which one matched leaks
 * through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The accepted keys, as digests. */
export interface ApiKeys {
  readonly digests: readonly Buffer[];
}

/**
 * The accepted key set: the current key, plus the previous one when non-empty.
 *
 * @example
 * const keys = apiKeys(config.apiKey.current, config.apiKey.previous);
 */
export function apiKeys(current: string, previous = ''): ApiKeys {
  return { digests: [current, previous].filter((k) => k !== '').map(digest) };
}

/**
 * True when `presented` is one of the accepted keys.
 *
 * @example
 * if (!apiKeyMatches(keys, req.headers['x-api-key'])) return unauthorized();
 */
export function apiKeyMatches(keys: ApiKeys, presented: string | string[] | undefined): boolean {
  if (typeof presented !== 'string' || presented === '') return false;
  const candidate = digest(presented);
  let matched = false;
  for (const accepted of keys.digests) {
    // No short circuit: compare against every key whatever the outcome of the first.
    matched = timingSafeEqual(candidate, accepted) || matched;
  }
  return matched;
}
