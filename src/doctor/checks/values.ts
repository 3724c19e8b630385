/**
 * Weak values (RK1xx): a JWT secret shorter than its algorithm's hash output (RFC 7518 §3.2), a value
 * under 128 bits of estimated entropy, one value under two keys, a known default or an empty value.
 * Values are compared in memory; findings name keys only.
 */
import { type DoctorContext, keyLocation } from '../context.js';
import { estimateBits } from '../entropy.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULES = {
  jwtShort: {
    id: 'RK101',
    name: 'jwt-secret-too-short',
    severity: 'high',
    summary: 'a JWT secret shorter than its HMAC algorithm requires (RFC 7518 §3.2)',
  },
  lowEntropy: {
    id: 'RK102',
    name: 'low-entropy-secret',
    severity: 'high',
    summary: 'a managed secret with under 128 bits of estimated entropy',
  },
  shared: {
    id: 'RK103',
    name: 'shared-secret-value',
    severity: 'high',
    summary: 'the same value under two keys',
  },
  known: {
    id: 'RK104',
    name: 'default-or-empty-secret',
    severity: 'high',
    summary: 'a managed secret that is empty or a well-known default',
  },
} as const satisfies Record<string, Rule>;

/** RFC 7518 §3.2: the key must be at least the hash output's size. */
const JWT_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };
const MIN_BITS = 128;
/** Defaults that installers, images and tutorials ship (compared case-insensitively). */
const KNOWN_DEFAULTS = new Set([
  'admin',
  'password',
  'postgres',
  'redis',
  'grafana',
  'root',
  'changeme',
  'change-me',
  'secret',
  'default',
  'example',
  'test',
  'letmein',
  '123456',
  '12345678',
  'password123',
  'your-secret-key',
  'supersecret',
]);

function jwtAlgorithm(ctx: DoctorContext, configured: string | undefined): string {
  return (configured ?? ctx.values.get('JWT_ALGORITHM') ?? 'HS256').toUpperCase();
}

export const valuesCheck: Check<DoctorContext> = {
  name: 'weak values',
  rules: Object.values(RULES),
  async run(ctx) {
    const out: Finding[] = [];
    for (const { config } of ctx.secrets) {
      if (config.type !== 'jwt') continue;
      const value = ctx.values.get(config.key);
      if (value === undefined || value === '') continue;
      const alg = jwtAlgorithm(ctx, config.algorithm);
      const min = JWT_MIN_BYTES[alg];
      const bytes = Buffer.byteLength(value, 'utf8');
      if (min === undefined || bytes >= min) continue;
      out.push({
        rule: RULES.jwtShort.id,
        severity: RULES.jwtShort.severity,
        message: `${config.key} is ${bytes} bytes; ${alg} needs at least ${min}`,
        why: 'RFC 7518 §3.2: an HMAC key shorter than the hash output weakens every token signed with it.',
        fix: `Rotate it (\`rekey rotate --only ${config.key}\`): rekey generates 64 random bytes.`,
        keys: [config.key],
        location: keyLocation(ctx, config.key),
      });
    }

    // Each distinct secret key once (an admin password key may serve several secrets).
    const keys = [...new Set(ctx.secrets.flatMap((s) => s.secretKeys))];
    // A grace slot is empty by design after a compromise rotation (and before the first one).
    const graceSlots = new Set(
      ctx.secrets.flatMap((s) => ('previousKey' in s.config ? [s.config.previousKey] : [])),
    );
    const byValue = new Map<string, string[]>();
    for (const key of keys) {
      const value = ctx.values.get(key);
      if (value === undefined || (value === '' && graceSlots.has(key))) continue;
      if (value === '' || KNOWN_DEFAULTS.has(value.toLowerCase())) {
        out.push({
          rule: RULES.known.id,
          severity: RULES.known.severity,
          message: value === '' ? `${key} is empty` : `${key} is a well-known default value`,
          why: 'Scanners and attackers try empty and default credentials first.',
          fix: `Rotate it now: \`rekey rotate --only ${key}\` (or set a random value if rekey does not manage it).`,
          keys: [key],
          location: keyLocation(ctx, key),
        });
        continue;
      }
      const bits = estimateBits(value);
      if (bits < MIN_BITS) {
        out.push({
          rule: RULES.lowEntropy.id,
          severity: RULES.lowEntropy.severity,
          message: `${key} has about ${Math.floor(bits)} bits of entropy (under ${MIN_BITS})`,
          why: 'A value this short or this regular can be guessed or brute-forced offline.',
          fix: `Rotate it: \`rekey rotate --only ${key}\` generates a random value of the type's full size.`,
          keys: [key],
          location: keyLocation(ctx, key),
        });
      }
      byValue.set(value, [...(byValue.get(value) ?? []), key]);
    }
    for (const group of byValue.values()) {
      // A secret's own slots may hold one value (a grace slot not yet rotated into): not a finding.
      if (group.length < 2 || ctx.secrets.some((s) => group.every((k) => s.secretKeys.includes(k)))) continue;
      out.push({
        rule: RULES.shared.id,
        severity: RULES.shared.severity,
        message: `${group.join(', ')} hold the same value`,
        why: 'One leak exposes every service that shares it, and rotating one key leaves the others open.',
        fix: `Rotate all but one: \`rekey rotate --only ${group.slice(1).join(',')}\`.`,
        keys: group,
        location: keyLocation(ctx, group[0] ?? ''),
      });
    }
    return out;
  },
};
