/**
 * What `completed` writes: the backup archived by policy, then the audit record of a rotation,
 * rollback or recovery (approvals, fingerprints of the values now in the env file, phases,
 * attachments, backup, error).
 */
import path from 'node:path';
import type { ArchiveResult } from '../backups/archive.js';
import { archivingEnabled } from '../backups/settings.js';
import type { LoadedConfig } from '../config/load.js';
import { recordedTrigger } from '../config/triggers.js';
import type { Journal, JournalMeta } from '../engine/journal.js';
import type { RotationResult } from '../engine/run.js';
import { redactor, safeMessage } from '../lib/redact.js';
import { loadRequest } from './approvals/request.js';
import type { RequestedBy } from './approvals/requester.js';
import { approvalState, type RoleApproval } from './approvals/state.js';
import type { AuditDraft } from './audit/append.js';
import { fingerprintSecrets } from './audit/secrets.js';
import type { AuditOutcome } from './audit/types.js';
import type { GovernanceOptions } from './options.js';

/** What `authorize` granted, for the record `completed` writes. */
export interface Granted {
  approvals?: readonly RoleApproval[];
  /** The verified requester of a signed request. */
  requestedBy?: RequestedBy;
  requestId?: string;
  ticket?: string;
  standing?: boolean;
}

const OUTCOMES: Readonly<Record<RotationResult['outcome'], AuditOutcome>> = {
  rotated: 'rotated',
  'rolled-back': 'rolled-back',
  'needs-attention': 'needs-attention',
  'nothing-to-do': 'nothing-to-do',
  planned: 'recorded',
};

/** The audit record of a finished rotation, rollback or recovery. */
export async function completedRecord(
  loaded: LoadedConfig,
  options: GovernanceOptions,
  granted: Granted,
  result: RotationResult,
  journal: Journal,
  backup: { file: string; archive?: string; localDeleted?: boolean } | undefined,
): Promise<AuditDraft> {
  const meta = journal.meta;
  const requestId = granted.requestId ?? (typeof meta.requestId === 'string' ? meta.requestId : undefined);
  const verified =
    granted.approvals === undefined && requestId ? await recordedApprovals(loaded, requestId) : undefined;
  const approvals = granted.approvals ?? verified?.approvals;
  const requestedBy = granted.approvals !== undefined ? granted.requestedBy : verified?.requestedBy;
  const ticket = typeof meta.ticket === 'string' ? meta.ticket : granted.ticket;
  return {
    time: result.endedAt,
    kind: options.command === 'recover' ? 'recover' : result.kind,
    rotationId: result.id,
    trigger: recordedTrigger(journal),
    ...(ticket ? { ticket } : {}),
    operator: options.operator,
    ...(requestId ? { requestId } : {}),
    ...(requestedBy ? { requestedBy } : {}),
    ...(approvals?.length ? { approvals } : {}),
    ...(typeof meta.breakGlass === 'string' ? { breakGlass: meta.breakGlass } : {}),
    ...(meta.unattended === true || granted.standing ? { unattended: true } : {}),
    secrets: await fingerprintSecrets(loaded, result.keys),
    outcome: OUTCOMES[result.outcome],
    phases: result.steps.map((s) => ({
      id: s.id,
      state: s.state,
      ...(s.ms !== undefined ? { ms: s.ms } : {}),
    })),
    ...(options.attachments?.length ? { attachments: options.attachments } : {}),
    ...(result.error ? { error: { code: result.error.code, message: result.error.message } } : {}),
    ...(backup ? { backup } : {}),
    ...(typeof meta.rollbackFrom === 'string' ? { rollbackFrom: path.basename(meta.rollbackFrom) } : {}),
    ...(result.state ? { state: result.state } : {}),
    ...(result.eviction ? { eviction: result.eviction } : {}),
    ...(result.checks.length > 0
      ? {
          verification: result.checks.map((c) => ({
            name: c.name,
            ...(c.target !== undefined ? { target: c.target } : {}),
            ok: c.ok,
            ...(c.expected !== undefined ? { expected: c.expected } : {}),
            detail: redactor.redact(c.detail),
          })),
        }
      : {}),
  };
}

/**
 * The verified approvals and requester of a request (recover: the rotating process is gone, its request is not):
 * only what verification yields, each required role's principal and key fingerprint, never the
 * entries as written in the request file.
 *
 * @example
 * await recordedApprovals(loaded, 'req-20261125-3fa2c1');
 * // { approvals: [{ role: 'security-lead', principal: 'alice@example.com', fingerprint: 'SHA256:…' }],
 * //   requestedBy: { principal: 'carol@example.com', fingerprint: 'SHA256:…' } }
 */
export async function recordedApprovals(
  loaded: LoadedConfig,
  id: string,
): Promise<{ approvals: readonly RoleApproval[]; requestedBy?: RequestedBy } | undefined> {
  try {
    const { request } = await loadRequest(loaded, id);
    const state = await approvalState(loaded, request);
    const requestedBy = state.requester.signed ? state.requester.verified : undefined;
    return { approvals: state.approvals, ...(requestedBy ? { requestedBy } : {}) };
  } catch {
    return undefined;
  }
}

/** Archives the backup after a successful run when `backups.encryptTo` is set; never throws. */
export async function archiveAfter(
  loaded: LoadedConfig,
  result: RotationResult,
  warn: (m: string) => void,
): Promise<{ file: string; archive?: string; localDeleted?: boolean } | undefined> {
  if (!result.backupPath) return undefined;
  const file = path.basename(result.backupPath);
  if (result.outcome !== 'rotated' || !archivingEnabled(loaded)) return { file };
  let r: ArchiveResult;
  try {
    // Loaded here: only a rotation that archives pays for loading the age implementation.
    const { archiveBackup } = await import('../backups/archive.js');
    r = await archiveBackup(loaded, result.backupPath);
  } catch (e) {
    warn(
      `the backup was NOT archived (${safeMessage(e)}); the plaintext backup is still at ${result.backupPath}`,
    );
    return { file };
  }
  return { file, archive: path.basename(r.archive), localDeleted: r.localDeleted };
}

export function ticketOf(meta: JournalMeta): { ticket?: string } {
  return typeof meta.ticket === 'string' ? { ticket: meta.ticket } : {};
}
