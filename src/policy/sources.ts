/**
 * The thin adapter between policy and the governance module: the audit log (`readAuditLog`,
 * `auditFileOf`) and the break-glass rotations still waiting for their approvals
 * (`outstandingApprovals`, `awaitingBreakGlass`). Policy reads governance only through this file.
 */
import type { LoadedConfig, StackConfig } from '../config/load.js';
import { outstandingApprovals as governanceOutstanding } from '../governance/approvals/index.js';
import { auditFileOf, readAuditLog, stackRecords } from '../governance/audit/index.js';
import type { AuditRecord } from '../governance/audit/types.js';
import { RekeyError } from '../lib/errors.js';
import type { AwaitingBreakGlass, OutstandingApproval } from './types.js';

/**
 * The records of the stack's audit log that belong to this stack (configs in one folder share the
 * log), in file order (an absent log is empty; unreadable lines are skipped: `rekey audit verify`
 * judges the chain, status only reads it).
 *
 * @example
 * (await auditRecords(loaded)).filter((r) => r.kind === 'rotate').length;
 */
export async function auditRecords(loaded: StackConfig): Promise<AuditRecord[]> {
  return stackRecords(loaded, await readAuditLog(auditFileOf(governanceView(loaded))));
}

/**
 * Change requests still waiting for approvals, with the keys they rotated (break-glass rotations
 * approved after the fact). Empty when rekey.yaml has no `approvals:` section.
 *
 * @example
 * (await outstandingApprovals(loaded)).flatMap((r) => r.keys); // ['JWT_SECRET']
 */
export async function outstandingApprovals(loaded: StackConfig): Promise<OutstandingApproval[]> {
  return (await governanceOutstanding(governanceView(loaded))).map((r) => ({
    requestId: r.requestId,
    keys: r.keys,
  }));
}

/**
 * The same requests with the time each was made: what `rekey check` holds against
 * `approvals.breakGlassDeadline` (see {@link lateBreakGlass} in check.ts).
 *
 * @example
 * (await awaitingBreakGlass(loaded))[0]?.time; // '2026-11-25T10:00:00.000Z'
 */
export async function awaitingBreakGlass(loaded: StackConfig): Promise<AwaitingBreakGlass[]> {
  return governanceOutstanding(governanceView(loaded));
}

/**
 * Governance takes a whole LoadedConfig but reads no env file value on these paths; policy (and so
 * `rekey serve`) holds none. Given a config without the env file, `env` throws if anything reads it.
 */
export function governanceView(loaded: StackConfig): LoadedConfig {
  if ('env' in loaded) return loaded as LoadedConfig;
  return Object.defineProperty({ ...loaded }, 'env', {
    enumerable: false,
    get() {
      throw new RekeyError(
        'ERR_INTERNAL',
        'policy holds no env file values: governance must not need them here',
      );
    },
  }) as LoadedConfig;
}
