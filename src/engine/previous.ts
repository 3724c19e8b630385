/**
 * What `rekey rollback` returns to on a store that keeps no backup file (Vault, SSM, Secrets
 * Manager): the values the last finished rotation of this store replaced. The journal history
 * (`.rekey/history/`, values removed) names that rotation and keeps the store's record of it (the
 * handles written at commit); the store reads the old values back from its own history
 * ({@link Store.previous}). Reads only.
 */
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { JournalStore } from './journal.js';
import type { Store, StoreRecord } from './ports.js';

/** The values before a finished rotation, as the store's history keeps them. */
export interface PreviousValues {
  /** The rotation whose old values these are (its journal id). */
  readonly rotation: string;
  /** The keys that rotation wrote, mapped to the values it replaced ('' for a key it created). */
  readonly values: ReadonlyMap<string, string>;
  /** Where the store keeps them, for messages: `Vault version 3 of secret/data/bi/production`. */
  readonly kept: string;
}

interface Archived {
  readonly id?: unknown;
  readonly createdAt?: unknown;
  readonly outcome?: unknown;
  readonly store?: unknown;
  readonly targets?: unknown;
}

/**
 * How far a store's clock may run ahead of this host's (NTP keeps both within milliseconds): a
 * version stamped up to this long after the rotation began still counts as written before it, so a
 * re-creation within it goes unnoticed.
 */
export const CLOCK_SKEW_MS = 5_000;

const BY_BACKUP =
  'Pass --backup PATH naming a file of KEY=value lines holding the values to return to; nothing was changed.';

/**
 * The values the newest finished rotation of `store` (outcome `rotated`, its record the store's own)
 * replaced. Throws ERR_BACKUP_NOT_FOUND when the store keeps no history rekey can read, when no
 * rotation of it is archived, or (from the store) when its history no longer holds them.
 *
 * @example
 * const prev = await previousOfLastRotation(deps.store, deps.stateDir);
 * prev.values.get('JWT_SECRET'); // the value before the rotation
 */
export async function previousOfLastRotation(store: Store, stateDir: string): Promise<PreviousValues> {
  if (store.previous === undefined)
    throw new RekeyError(
      'ERR_BACKUP_NOT_FOUND',
      `rekey keeps no backup file for ${store.name}, and cannot read old values from its history`,
      { hint: BY_BACKUP },
    );
  const journals = new JournalStore(stateDir);
  const history = (await journals.history()) as Archived[];
  for (const h of [...history].reverse()) {
    const began = typeof h.createdAt === 'string' ? new Date(h.createdAt) : undefined;
    if (h.outcome !== 'rotated' || typeof h.id !== 'string' || !began || Number.isNaN(began.getTime()))
      continue;
    const record = h.store as StoreRecord | undefined;
    if (record === null || typeof record !== 'object' || typeof record.type !== 'string') continue;
    if ((await store.owner(record)) !== undefined) continue;
    const keys = Array.isArray(h.targets)
      ? h.targets.flatMap((t: { keys?: unknown }) =>
          Array.isArray(t?.keys) ? t.keys.filter((k): k is string => typeof k === 'string') : [],
        )
      : [];
    if (keys.length === 0) continue;
    const values = await store.previous(record, keys, new Date(began.getTime() + CLOCK_SKEW_MS));
    return {
      rotation: h.id,
      values: new Map(keys.map((k) => [k, values[k] ?? ''])),
      kept: store.kept(record),
    };
  }
  throw new RekeyError(
    'ERR_BACKUP_NOT_FOUND',
    `no finished rotation of ${store.name} in the journal history (${path.join(stateDir, 'history')}): nothing to return to`,
    { hint: BY_BACKUP },
  );
}
