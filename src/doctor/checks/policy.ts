/**
 * Policy (RK6xx): secrets overdue or never rotated (what `rekey check` fails on), break-glass
 * rotations still waiting for their approvals, an audit log whose chain does not verify.
 */
import { verifyAuditLog } from '../../governance/audit/read.js';
import { lateBreakGlass } from '../../policy/check.js';
import { readStatus } from '../../policy/inputs.js';
import { awaitingBreakGlass } from '../../policy/sources.js';
import { type DoctorContext, keyLocation } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULES = {
  overdue: {
    id: 'RK601',
    name: 'secret-overdue',
    severity: 'high',
    summary: 'a secret older than policy.maxAge (medium when its age is unknown: never rotated by rekey)',
  },
  dueSoon: {
    id: 'RK602',
    name: 'secret-due-soon',
    severity: 'info',
    summary: 'a secret due within policy.warnBefore',
  },
  breakGlass: {
    id: 'RK603',
    name: 'break-glass-unapproved',
    severity: 'high',
    summary: 'a break-glass rotation still lacks its approvals (late: past approvals.breakGlassDeadline)',
  },
  audit: {
    id: 'RK604',
    name: 'audit-chain-broken',
    severity: 'critical',
    summary: 'the audit log does not verify',
  },
} as const satisfies Record<string, Rule>;

const days = (ms: number) => Math.floor(Math.abs(ms) / 86_400_000);

export const policyCheck: Check<DoctorContext> = {
  name: 'policy',
  rules: Object.values(RULES),
  async run(ctx) {
    const out: Finding[] = [];
    const report = await readStatus(ctx.loaded);
    for (const s of report.secrets) {
      if (s.overdue) {
        const never = s.lastRotated === undefined;
        out.push({
          rule: RULES.overdue.id,
          severity: never ? 'medium' : RULES.overdue.severity,
          message: never
            ? `${s.key} has no known rotation (age unknown)`
            : `${s.key} is overdue by ${days(s.dueInMs ?? 0)} day(s) (last rotated ${s.lastRotated})`,
          why: 'The longer a credential lives, the more copies of it exist (backups, laptops, former staff).',
          fix: `rekey rotate --only ${s.key}`,
          keys: [s.key],
          location: keyLocation(ctx, s.key),
        });
      } else if (s.dueSoon) {
        out.push({
          rule: RULES.dueSoon.id,
          severity: RULES.dueSoon.severity,
          message: `${s.key} is due in ${days(s.dueInMs ?? 0)} day(s)`,
          why: 'Rotating before the due date leaves time to fix a failed rotation.',
          fix: `rekey rotate --only ${s.key} (or let \`rekey schedule\` do it)`,
          keys: [s.key],
          location: keyLocation(ctx, s.key),
        });
      }
    }
    const awaiting = await awaitingBreakGlass(ctx.loaded);
    const late = new Set(
      lateBreakGlass(awaiting, ctx.loaded.config.approvals, ctx.now).map((b) => b.requestId),
    );
    for (const b of awaiting) {
      out.push({
        rule: RULES.breakGlass.id,
        severity: late.has(b.requestId) ? 'high' : 'medium',
        message: `break-glass request ${b.requestId} (${b.keys.join(', ')}, ${b.time}) lacks its approvals${late.has(b.requestId) ? ' past the deadline' : ''}`,
        why: 'A break-glass rotation is approved after the fact; until then one person changed production alone.',
        fix: `Two approvers: rekey approve ${b.requestId}`,
        keys: b.keys,
        location: { file: ctx.loaded.path },
      });
    }
    const verdict = await verifyAuditLog(ctx.loaded);
    if (!verdict.ok) {
      out.push({
        rule: RULES.audit.id,
        severity: RULES.audit.severity,
        message: `the audit log ${verdict.file} does not verify${verdict.broken ? ` from record ${verdict.broken.seq}: ${verdict.broken.reason}` : ''}`,
        why: 'Records were edited, removed or reordered: the trail cannot be trusted as evidence.',
        fix: 'Run `rekey audit verify` for the details; restore the log from its anchor or backup and find who changed it.',
        location: { file: verdict.file },
      });
    }
    return out;
  },
};
