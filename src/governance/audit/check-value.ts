/**
 * `rekey audit check-value KEY`: is the env file's value of KEY the one the audit log recorded last?
 * A mismatch means the value changed outside rekey (a hand edit, a restore, another tool).
 */

import { timingSafeEqual } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import { stackValues } from '../../config/load.js';
import { RekeyError } from '../../lib/errors.js';
import { auditKeyFileOf, fingerprint, readAuditKeyAt } from './key.js';
import { auditFileOf, readAuditLog } from './read.js';
import { stackRecords } from './stack.js';

export interface ValueCheck {
  readonly key: string;
  readonly matches: boolean;
  /** The record that holds the last fingerprint. */
  readonly seq: number;
  readonly time: string;
  readonly kind: string;
  readonly rotationId?: string;
}

/**
 * Compares the env file's current value of `key` with the newest fingerprint of it in the audit log.
 * Throws ERR_AUDIT_NO_RECORD when there is none.
 *
 * @example
 * const r = await checkValue(loaded, 'REDIS_PASSWORD');
 * r.matches; // false after someone edited the env file by hand
 */
export async function checkValue(loaded: LoadedConfig, key: string): Promise<ValueCheck> {
  const records = await stackRecords(loaded, await readAuditLog(auditFileOf(loaded)));
  const found = [...records]
    .reverse()
    .flatMap((r) => {
      if (r.outcome === 'refused' || !Array.isArray(r.secrets)) return [];
      const s = r.secrets.find((x) => x.key === key);
      return s ? [{ r, s }] : [];
    })
    .find(({ r }) => r.kind === 'rotate' || r.kind === 'rollback' || r.kind === 'recover');
  const auditKey = await readAuditKeyAt(auditKeyFileOf(loaded));
  if (found === undefined || auditKey === undefined) {
    throw new RekeyError('ERR_AUDIT_NO_RECORD', `the audit log holds no fingerprint of ${key}`);
  }
  const value = (await stackValues(loaded)).get(key) ?? '';
  const now = Buffer.from(fingerprint(auditKey, value), 'hex');
  const recorded = Buffer.from(found.s.fingerprint, 'hex');
  const matches = now.length === recorded.length && timingSafeEqual(now, recorded);
  return {
    key,
    matches,
    seq: found.r.seq,
    time: found.r.time,
    kind: found.r.kind,
    ...(found.r.rotationId ? { rotationId: found.r.rotationId } : {}),
  };
}
