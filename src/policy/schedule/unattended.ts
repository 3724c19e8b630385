/**
 * Which secrets `rekey schedule` may rotate without a human: `unattended: true` in rekey.yaml is a
 * standing approval, allowed by default only for types whose rotation keeps the old credential working
 * until the new one is verified and needs no user-facing change (postgres, redis). Other types need
 * the operator to name them on the command line (`--allow-unattended jwt,api-key`), so the decision is
 * visible where the service is defined (the systemd unit), not only in the config.
 */
import type { SecretConfig, SecretType } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { defaultUnattendedTypes, isSecretType, SECRET_TYPES } from '../../targets/registry.js';

/** The types whose spec allows unattended rotation by default (src/targets/registry.ts). */
export const DEFAULT_UNATTENDED_TYPES: readonly SecretType[] = defaultUnattendedTypes();

/**
 * The types that may be unattended: the defaults plus those named. Throws ERR_USAGE for an unknown
 * type name.
 *
 * @example
 * allowedUnattendedTypes(['jwt']); // Set { 'postgres', 'redis', 'jwt' }
 */
export function allowedUnattendedTypes(extra: readonly string[] = []): ReadonlySet<SecretType> {
  const unknown = extra.filter((t) => !isSecretType(t));
  if (unknown.length > 0) {
    throw new RekeyError('ERR_USAGE', `--allow-unattended: unknown type ${unknown.join(', ')}`, {
      hint: `Name types among ${SECRET_TYPES.join(', ')}.`,
    });
  }
  return new Set<SecretType>([...DEFAULT_UNATTENDED_TYPES, ...(extra as SecretType[])]);
}

/**
 * Throws ERR_UNATTENDED_REFUSED when a secret is marked `unattended: true` but its type is not allowed.
 *
 * @example
 * assertUnattendedAllowed(loaded.config.secrets, allowedUnattendedTypes());
 */
export function assertUnattendedAllowed(
  secrets: readonly SecretConfig[],
  allowed: ReadonlySet<SecretType>,
): void {
  const refused = secrets.filter((s) => s.unattended === true && !allowed.has(s.type));
  if (refused.length === 0) return;
  const first = refused[0]!;
  throw new RekeyError(
    'ERR_UNATTENDED_REFUSED',
    `${first.key}: type ${first.type} may not be rotated unattended (by default only ${DEFAULT_UNATTENDED_TYPES.join(' and ')})`,
    { details: refused.slice(1).map((s) => `${s.key}: type ${s.type}`) },
  );
}

/**
 * What `rekey schedule` checks before it starts: every `unattended: true` secret is of an allowed type
 * (else ERR_UNATTENDED_REFUSED), and there is at least one (else ERR_CONFIG_INVALID: nothing to do).
 *
 * @example
 * assertSchedulable(loaded.config.secrets, allowedUnattendedTypes(['jwt']));
 */
export function assertSchedulable(secrets: readonly SecretConfig[], allowed: ReadonlySet<SecretType>): void {
  assertUnattendedAllowed(secrets, allowed);
  if (!secrets.some((s) => s.unattended)) {
    throw new RekeyError(
      'ERR_CONFIG_INVALID',
      'no secret has `unattended: true`: rekey schedule has nothing to do',
      {
        hint: 'Mark the secrets rekey may rotate on its own with `unattended: true` (postgres and redis by default).',
      },
    );
  }
}
