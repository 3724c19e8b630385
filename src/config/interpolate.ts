/**
 * `${NAME}` in any string of rekey.yaml takes NAME from the env file, then the process environment.
 * `$$` is a literal `$`. An unknown name is an error naming where it was used.
 */
import { RekeyError } from '../lib/errors.js';

const REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g;

export type Lookup = (name: string, path: string) => string | undefined;

/**
 * Replaces every `${NAME}` in the strings of a parsed YAML tree (returns a new tree).
 *
 * @example
 * interpolate({ user: '${POSTGRES_USER}' }, (n) => ({ POSTGRES_USER: 'bi' })[n]); // { user: 'bi' }
 */
export function interpolate(node: unknown, lookup: Lookup, path = ''): unknown {
  if (typeof node === 'string') return interpolateString(node, lookup, path);
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, lookup, `${path}[${i}]`));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node))
      out[k] = interpolate(v, lookup, path === '' ? k : `${path}.${k}`);
    return out;
  }
  return node;
}

function interpolateString(text: string, lookup: Lookup, path: string): string {
  return text.replace(REF, (_whole, name: string | undefined) => {
    if (name === undefined) return '$';
    const value = lookup(name, path || 'config');
    if (value === undefined) {
      throw new RekeyError(
        'ERR_CONFIG_INTERPOLATION',
        `${path || 'config'}: \${${name}} is not set in the env file or the environment`,
      );
    }
    return value;
  });
}
