/**
 * Where the Grafana API is and as whom rekey talks to it: the configured `url` and `user`, checked
 * once when the target is built. Credentials never go in the URL (they would end up in proxy and
 * access logs): a URL carrying a user or password is refused, and the password travels only in the
 * `Authorization` header.
 */
import { RekeyError } from '../../lib/errors.js';

/** The parsed `url` and `user` of a `type: grafana` secret. */
export interface GrafanaEndpoint {
  /** The env key, for messages. */
  readonly key: string;
  readonly user: string;
  /** The Grafana root, always ending in `/` (a sub-path such as `/grafana/` is kept). */
  readonly base: URL;
  /** The root for messages: scheme, host and path, no query. */
  readonly display: string;
}

/**
 * Parses and checks the Grafana URL and user; ERR_CONFIG_INVALID when unusable.
 *
 * @example
 * endpointOf('GRAFANA_ADMIN_PASSWORD', 'http://127.0.0.1:3000', 'admin').display; // 'http://127.0.0.1:3000'
 */
export function endpointOf(key: string, url: string, user: string): GrafanaEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RekeyError('ERR_CONFIG_INVALID', `${key}.url: not a URL`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // The URL is not echoed: it holds a credential.
    throw new RekeyError('ERR_CONFIG_INVALID', `${key}.url: must not contain a user or password`, {
      hint: `Write the bare address (http://host:3000) and the login in \`user\`; rekey sends the password from ${key} in the Authorization header.`,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RekeyError('ERR_CONFIG_INVALID', `${key}.url: expected http:// or https://`);
  }
  if (user.includes(':')) {
    throw new RekeyError('ERR_CONFIG_INVALID', `${key}.user: a login containing ":" cannot use basic auth`);
  }
  const base = new URL(`${parsed.origin}${parsed.pathname.replace(/\/*$/, '/')}`);
  return { key, user, base, display: `${base.origin}${base.pathname.replace(/\/$/, '')}` };
}

/**
 * True when `url` points at this machine (localhost, 127.0.0.0/8, ::1), where plain http stays local.
 *
 * @example
 * isLoopback(new URL('http://127.0.0.1:3000')); // true
 * isLoopback(new URL('http://grafana.internal:3000')); // false
 */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '[::1]' ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
  );
}
