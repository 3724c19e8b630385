/**
 * What a rollback change request binds besides its keys: the values the rollback returns to. An
 * approval of "return JWT_SECRET to last Tuesday's backup" must not authorize a return to a file the
 * operator wrote (values they chose, or a leaked old value): the request records an HMAC fingerprint
 * (the audit key, as the audit log's value fingerprints) of every key the rolled-back secrets write
 * with the value it returns to, and `rekey rollback --request` refuses other values. Never a value.
 */
import type { LoadedConfig } from '../../config/load.js';
import { fingerprint, stackAuditKey } from '../audit/key.js';

/** Recorded in a rollback request (covered by its digest). */
export interface ReturnTo {
  /** How the source was named when the request was made: `the values of .env.production.backup-…`. */
  readonly what: string;
  /** HMAC-SHA256 under the stack's audit key of the canonical list of keys and values. */
  readonly fingerprint: string;
}

/**
 * @example
 * await returnToFingerprint(loaded, new Map([['JWT_SECRET', old], ['JWT_SECRET_PREVIOUS', '']])); // 'a1b2…'
 */
export async function returnToFingerprint(
  loaded: LoadedConfig,
  written: ReadonlyMap<string, string>,
): Promise<string> {
  const canonical = JSON.stringify([...written].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return fingerprint(await stackAuditKey(loaded), `rekey-return-to-v1\n${canonical}`);
}
