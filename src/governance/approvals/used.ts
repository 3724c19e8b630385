/**
 * Whether a change request was used: one answer for every path (rotate/rollback --request, approve,
 * `rekey requests`, `rekey status`). The audit log is the source of truth — MACed, chained and
 * anchored — : a request is used once the log holds a rotation, rollback or recovery record naming it
 * (any outcome but `refused`). The `.used` marker is only the claim of a rotation still in flight
 * (created exclusively, so two rotations can never both claim it) and a cache of the rotation id:
 * deleting it does not make a used request usable again, and a copy of a used request under another
 * file name carries the same id (inside its signed digest), so it is refused too.
 */
import type { LoadedConfig } from '../../config/load.js';
import { auditFileOf, readAuditLog } from '../audit/read.js';
import { type RequestUse, requestUse } from './request.js';

/**
 * How a request was used (from the audit log, else a live claim), or undefined when it was not.
 *
 * @example
 * const use = await requestUsed(loaded, 'req-20261125-3fa2c1');
 * use?.rotationId; // '20261125T100000Z-a1b2c3'
 */
export async function requestUsed(loaded: LoadedConfig, id: string): Promise<RequestUse | undefined> {
  const audited = (await readAuditLog(auditFileOf(loaded))).find(
    (r) =>
      r.requestId === id &&
      (r.kind === 'rotate' || r.kind === 'rollback' || r.kind === 'recover') &&
      r.outcome !== 'refused',
  );
  if (audited) {
    return {
      time: audited.time,
      operator: audited.operator,
      host: audited.host,
      ...(audited.rotationId ? { rotationId: audited.rotationId } : {}),
    };
  }
  // Claimed by a rotation that has not written its record yet (running, or crashed: `recover`
  // writes it).
  return requestUse(loaded, id);
}
