/** Builders for the policy unit tests: secrets, events and inputs around a pinned clock. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SecretConfig } from '../../src/config/schema.js';
import { formatBackupTime } from '../../src/envfile/index.js';
import type { StatusConfig } from '../../src/policy/status.js';
import type { PolicyInputs, RotationEvent } from '../../src/policy/types.js';

export const DAY = 86_400_000;
export const NOW = new Date('2026-06-01T12:00:00Z');

/** The time `days` days before {@link NOW}. */
export function ago(days: number): Date {
  return new Date(NOW.getTime() - days * DAY);
}

export function secret(
  key: string,
  type: SecretConfig['type'],
  extra: Partial<SecretConfig> = {},
): SecretConfig {
  return { key, type, ...extra } as SecretConfig;
}

export const SECRETS: SecretConfig[] = [
  secret('JWT_SECRET', 'jwt'),
  secret('POSTGRES_PASSWORD', 'postgres', { unattended: true }),
  secret('REDIS_PASSWORD', 'redis', { unattended: true }),
];

export function statusConfig(
  secrets: SecretConfig[] = SECRETS,
  policy: Partial<StatusConfig['policy']> = {},
): StatusConfig {
  return { stack: 'prod', policy: { maxAge: '90d', warnBefore: '14d', ...policy }, secrets };
}

let n = 0;
/** A rotation event; its id begins with its time, as the engine's do. */
export function event(e: Partial<RotationEvent> & { time: Date; keys: string[] }): RotationEvent {
  n++;
  return {
    id: `${formatBackupTime(e.time)}-${n.toString(16).padStart(6, '0')}`,
    kind: 'rotate',
    outcome: 'rotated',
    trigger: 'scheduled',
    source: 'journal',
    ...e,
  };
}

export function inputs(partial: Partial<PolicyInputs> = {}): PolicyInputs {
  return { events: [], approvals: [], schedule: { version: 1, secrets: {} }, warnings: [], ...partial };
}

/**
 * Writes the journal of a rotation in flight (a `personnel` rotation, every target staged, nobody
 * holding the lock) into `<dir>/.rekey/journal.json`, 0600; `values(key)` gives a key's old and new.
 *
 * @example
 * await writePendingJournal(dir, ['D_SECRET'], () => ({ old: 'x', new: 'y' }));
 */
export async function writePendingJournal(
  dir: string,
  keys: readonly string[],
  values: (key: string) => { old: string; new: string },
): Promise<string> {
  const journal = path.join(dir, '.rekey', 'journal.json');
  await fs.writeFile(
    journal,
    JSON.stringify({
      version: 1,
      id: '20260601T110000Z-cccccc',
      kind: 'rotate',
      trigger: 'personnel',
      status: 'running',
      createdAt: '2026-06-01T11:00:00.000Z',
      steps: [],
      targets: keys.map((k) => {
        const v = values(k);
        return { key: k, type: 'generic', state: 'staged', old: { [k]: v.old }, new: { [k]: v.new } };
      }),
      meta: {},
    }),
    { mode: 0o600 },
  );
  return journal;
}
