/**
 * `${NAME}` in any string of rekey.yaml takes NAME from the env file (a store stack: its store's
 * non-managed fields), then the process environment. `$$` is a literal `$`. An unknown name is an
 * error naming where it was used and where it was looked for.
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
export function interpolate(node: unknown, lookup: Lookup, path = '', from = ENV_FILE): unknown {
  if (typeof node === 'string') return interpolateString(node, lookup, path, from);
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, lookup, `${path}[${i}]`, from));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node))
      out[k] = interpolate(v, lookup, path === '' ? k : `${path}.${k}`, from);
    return out;
  }
  return node;
}

/** Where `lookup` looks by default, for the error: `the env file or the environment`. */
const ENV_FILE = 'the env file or the environment';

/**
 * Where a store stack's `${NAME}` is looked up, for the error: its store's fields, then the
 * environment (`identity` is config/store.ts `storeIdentity`).
 *
 * @example
 * storeSource('vault-kv:https://vault:8200/secret/bi/production');
 * // 'the store vault-kv:https://vault:8200/secret/bi/production or the environment'
 */
export function storeSource(identity: string): string {
  return `the store ${identity} or the environment`;
}

/** Only the process environment (the `store:` section, `envFile:`). */
export const ENVIRONMENT = 'the environment';

function hintFor(name: string, from: string): string {
  return from === ENVIRONMENT
    ? `Set ${name} in rekey's environment, or write the value literally (this part is read before the store).`
    : `Add a field ${name} to the store, or set it in the environment, or write the value literally.`;
}

function interpolateString(text: string, lookup: Lookup, path: string, from: string): string {
  return text.replace(REF, (_whole, name: string | undefined) => {
    if (name === undefined) return '$';
    const value = lookup(name, path || 'config');
    if (value === undefined) {
      throw new RekeyError(
        'ERR_CONFIG_INTERPOLATION',
        `${path || 'config'}: \${${name}} is not set in ${from}`,
        from === ENV_FILE ? {} : { hint: hintFor(name, from) },
      );
    }
    return value;
  });
}
