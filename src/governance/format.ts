/** Human lines for the governance commands (pure: data in, lines out; the CLI prints them). */
import { color } from '../lib/log.js';
import type { RequestOverview } from './approvals/index.js';
import type { ChangeRequest } from './approvals/request.js';
import type { ApprovalState } from './approvals/state.js';
import type { AuditRecord } from './audit/types.js';

/**
 * One line per audit record, oldest first.
 *
 * @example
 * auditLines(records); // ['#1 2026-11-25T10:00:00Z request recorded JWT_SECRET by carol@… (request req-…)']
 */
export function auditLines(records: readonly AuditRecord[]): string[] {
  if (records.length === 0) return ['the audit log is empty'];
  return records.map((r) => {
    const keys = r.secrets?.map((s) => s.key).join(', ');
    const extra = [
      r.trigger ? `trigger ${r.trigger}` : undefined,
      r.ticket ? `ticket ${r.ticket}` : undefined,
      r.requestId ? `request ${r.requestId}` : undefined,
      r.rotationId ? `rotation ${r.rotationId}` : undefined,
      r.store ? `to ${r.store}` : undefined,
      r.approvals?.length
        ? `approved by ${r.approvals.map((a) => `${a.role} ${a.principal}`).join(', ')}`
        : undefined,
      r.breakGlass ? `BREAK-GLASS: ${r.breakGlass}` : undefined,
      r.unattended ? 'unattended' : undefined,
      r.attachments?.length ? `${r.attachments.length} attachment(s)` : undefined,
      r.backup?.archive
        ? `archived ${r.backup.archive}${r.backup.localDeleted ? ', local copy deleted' : ''}`
        : undefined,
      r.rollbackFrom ? `from ${r.rollbackFrom}` : undefined,
      // A part left on something else than its old value (another writer's, unknown): named.
      ...Object.entries(r.state ?? {})
        .filter(([, v]) => !v.startsWith('old value'))
        .map(([k, v]) => `${k}: ${v}`),
      r.error ? `${r.error.code}` : undefined,
    ].filter(Boolean);
    const outcome =
      r.outcome === 'refused' || r.outcome === 'needs-attention' ? color.red(r.outcome) : r.outcome;
    return `#${r.seq} ${r.time} ${r.kind} ${outcome}${keys ? ` ${keys}` : ''} by ${r.operator}${extra.length ? color.dim(` (${extra.join('; ')})`) : ''}`;
  });
}

/**
 * What a request is and what it still needs.
 *
 * @example
 * requestLines(request, state); // ['change request req-… (stack app)', '  keys: JWT_SECRET', …]
 */
export function requestLines(r: ChangeRequest, state: ApprovalState): string[] {
  return [
    `change request ${color.bold(r.id)} (stack ${r.stack})`,
    `  keys:      ${r.keys.join(', ')}`,
    `  trigger:   ${r.trigger}${r.ticket ? `, ticket ${r.ticket}` : ''}`,
    ...(r.reason ? [`  reason:    ${r.reason}`] : []),
    ...(r.returnTo
      ? [`  returns to: ${r.returnTo.what} (values fingerprint ${r.returnTo.fingerprint.slice(0, 16)}…)`]
      : []),
    ...(r.envFile ? [`  for:       ${r.envFile} on ${r.host ?? '?'} (stack id ${r.stackId ?? '?'})`] : []),
    `  requester: ${r.requester} (${requesterProof(state.requester)})`,
    `  expires:   ${r.expires}`,
    `  digest:    ${r.digest}`,
    ...state.approvals.map((a) => `  ${color.green('✓')} ${a.role}: ${a.principal}`),
    ...state.missing.map((m) => `  ${color.yellow('…')} ${m.role}: ${m.why}`),
  ];
}

/** What the requester's signature proves, in words. */
function requesterProof(check: ApprovalState['requester']): string {
  if (!check.signed) return 'unsigned: named, not proven';
  if (check.verified === undefined)
    return color.red(`signature does not verify${check.why ? `: ${check.why}` : ''}`);
  return `signed by ${check.verified.principal}${check.fingerprint ? `, key ${check.fingerprint}` : ''}`;
}

/**
 * One block per request for `rekey requests`.
 *
 * @example
 * requestsLines(await requestsOverview(loaded));
 */
export function requestsLines(list: readonly RequestOverview[]): string[] {
  if (list.length === 0) return ['no change requests'];
  return list.flatMap((r) => {
    const status =
      r.status === 'approved' || r.status === 'approved after the fact'
        ? color.green(r.status)
        : r.status === 'invalid' || r.status === 'approval outstanding'
          ? color.red(r.status)
          : r.status === 'pending'
            ? color.yellow(r.status)
            : color.dim(r.status);
    return [
      `${color.bold(r.id)} ${status} — ${r.keys.join(', ')} (trigger ${r.trigger}${r.ticket ? `, ticket ${r.ticket}` : ''}) by ${r.requester}`,
      ...(r.breakGlass
        ? [`  break-glass: ${r.breakGlass}${r.rotationId ? ` (rotation ${r.rotationId})` : ''}`]
        : []),
      ...r.approvals.map((a) => `  ✓ ${a.role}: ${a.principal}`),
      ...(r.status === 'used' || r.status === 'expired'
        ? []
        : r.missing.map((m) => `  needs ${m.role}: ${m.why}`)),
      ...r.problems.map((p) => `  ! ${p}`),
      ...(r.status === 'pending' ? [`  expires ${r.expires}`] : []),
    ];
  });
}
