/**
 * The names of a pending rotation, read from its journal without keeping a value: the journal holds
 * old and new values while a rotation runs, and status (and so `rekey serve`) needs only who, what
 * and when. Values are dropped as the JSON is parsed; what is returned holds none.
 */
import { promises as fs } from 'node:fs';
import { type RecordedTrigger, recordedTrigger } from '../config/triggers.js';
import { journalDocument, READABLE_JOURNAL_VERSIONS } from '../engine/journal.js';
import { RekeyError } from '../lib/errors.js';

export interface PendingNames {
  readonly id: string;
  readonly kind: 'rotate' | 'rollback';
  readonly createdAt: string;
  readonly trigger: RecordedTrigger;
  readonly keys: readonly string[];
  readonly unattended: boolean;
}

/**
 * The pending journal's names (throws ENOENT when there is none, ERR_JOURNAL_CORRUPT when damaged).
 *
 * @example
 * (await readPendingNames('.rekey/journal.json')).keys; // ['REDIS_PASSWORD']
 */
export async function readPendingNames(file: string): Promise<PendingNames> {
  const bytes = await fs.readFile(file);
  // Each target's `old` and `new` (the values) are dropped as they are parsed.
  const j = journalDocument(bytes, file, (k, v) => (k === 'old' || k === 'new' ? undefined : v)) as {
    version?: unknown;
    id?: unknown;
    kind?: unknown;
    createdAt?: unknown;
    trigger?: unknown;
    targets?: unknown;
    meta?: { unattended?: unknown; recordedTrigger?: unknown };
  } | null;
  if (
    j === null ||
    typeof j !== 'object' ||
    !READABLE_JOURNAL_VERSIONS.has(j.version) ||
    !Array.isArray(j.targets)
  ) {
    throw new RekeyError(
      'ERR_JOURNAL_CORRUPT',
      `${file} has an unknown format (version ${String(j?.version)})`,
    );
  }
  return {
    id: String(j.id),
    kind: j.kind === 'rollback' ? 'rollback' : 'rotate',
    createdAt: String(j.createdAt),
    // What the rotation is recorded as (manual, rollback, ...), not only the engine's trigger.
    trigger: recordedTrigger({ trigger: String(j.trigger), meta: j.meta }),
    keys: (j.targets as Array<{ key?: unknown }>).map((t) => String(t?.key)),
    unattended: j.meta?.unattended === true,
  };
}
