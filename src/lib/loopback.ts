/**
 * Plain http is accepted only to this machine (the stand-ins, a local Vault agent): anywhere else it
 * would carry tokens and secret values in clear text.
 */

/**
 * @example
 * isLoopback('127.0.0.1'); // true
 * isLoopback('vault.internal'); // false
 */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}
