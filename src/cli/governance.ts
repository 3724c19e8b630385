/** Change control and audit commands: request, approve, requests, audit show|verify|check-value. */
import type { Trigger } from '../config/triggers.js';
import { silentProgress } from '../engine/progress.js';
import { approvalState, approveRequest, requestsOverview } from '../governance/approvals/index.js';
import { checkValue, readAuditLog, stackRecords, verifyAuditLog } from '../governance/audit/index.js';
import { auditFileOf } from '../governance/audit/read.js';
import { auditLines, requestLines, requestsLines } from '../governance/format.js';
import { changeControlWarning } from '../governance/hooks.js';
import { operatorIdentity } from '../governance/identity.js';
import { requestRotation } from '../governance/request-rotation.js';
import { RekeyError } from '../lib/errors.js';
import { type GlobalOptions, loadStack, openStack } from './context.js';
import { notifyRequested } from './notify-events.js';
import { printJson, printLines } from './output.js';

export async function requestCommand(
  globals: GlobalOptions,
  o: {
    trigger: Trigger;
    ticket: string;
    only?: string[];
    force?: boolean;
    reason?: string;
    operator?: string;
    key?: string;
    backup?: string;
    identity?: string;
    json?: boolean;
  },
): Promise<void> {
  const deps = await openStack(globals, { progress: silentProgress });
  const { request, file } = await requestRotation(deps, {
    trigger: o.trigger,
    ticket: o.ticket,
    ...(o.only ? { only: o.only } : {}),
    ...(o.force ? { force: true } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.operator ? { operator: o.operator } : {}),
    ...(o.key ? { key: o.key } : {}),
    ...(o.backup ? { backup: o.backup } : {}),
    ...(o.identity ? { identity: o.identity } : {}),
  });
  await notifyRequested(deps.loaded, request);
  if (o.json) {
    printJson({ ok: true, file, ...request });
    return;
  }
  const state = await approvalState(deps.loaded, request);
  printLines([
    ...requestLines(request, state),
    '',
    `approvers: rekey approve ${request.id} --role ROLE [--key PATH]`,
    request.trigger === 'rollback'
      ? `then:      rekey rollback --request ${request.id}${o.backup ? ` --backup ${o.backup}` : ''}`
      : `then:      rekey rotate --request ${request.id} --trigger ${request.trigger}${o.only ? ` --only ${o.only.join(',')}` : ''}`,
  ]);
}

export async function approveCommand(
  globals: GlobalOptions,
  ref: string,
  o: { role: string; key?: string; principal?: string; operator?: string; json?: boolean },
): Promise<void> {
  const loaded = await loadStack(globals.config);
  const { request, approval, state } = await approveRequest(loaded, ref, {
    role: o.role,
    ...(o.key ? { key: o.key } : {}),
    ...(o.principal ? { principal: o.principal } : {}),
    operator: await operatorIdentity(loaded.dir, o.operator),
  });
  if (o.json) {
    printJson({
      ok: true,
      requestId: request.id,
      approval: { role: approval.role, principal: approval.principal, signedAt: approval.signedAt },
      approvals: state.approvals,
      missing: state.missing,
      satisfied: state.satisfied,
    });
    return;
  }
  printLines([
    `approved ${request.id} as ${approval.role}: signed by ${approval.principal}`,
    state.satisfied
      ? `every required role has approved: rekey rotate --request ${request.id}`
      : `still needed: ${state.missing.map((m) => m.role).join(', ')}`,
  ]);
}

export async function requestsCommand(globals: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const loaded = await loadStack(globals.config);
  const warning = changeControlWarning(loaded);
  const list = warning ? [] : await requestsOverview(loaded);
  if (o.json) {
    printJson({ ok: true, requests: list, ...(warning ? { warnings: [warning] } : {}) });
    return;
  }
  printLines(warning ? [warning] : requestsLines(list));
}

export async function auditShowCommand(
  globals: GlobalOptions,
  o: { json?: boolean; limit?: number; allStacks?: boolean },
): Promise<void> {
  const loaded = await loadStack(globals.config);
  const all = await readAuditLog(auditFileOf(loaded));
  // Configs sharing a folder share the log: this stack's records unless --all-stacks.
  const records = o.allStacks ? all : await stackRecords(loaded, all);
  const others = all.length - records.length;
  const shown = o.limit !== undefined && o.limit > 0 ? records.slice(-o.limit) : records;
  if (o.json) {
    printJson({
      ok: true,
      file: auditFileOf(loaded),
      records: shown,
      ...(others > 0 ? { otherStacks: others } : {}),
    });
    return;
  }
  const lines =
    records.length === 0 && others > 0
      ? [`no record of this stack (${loaded.stackKey}) in the audit log`]
      : auditLines(shown);
  if (others > 0)
    lines.push(
      `${others} record${others === 1 ? '' : 's'} of other stacks sharing this log not shown (--all-stacks shows them)`,
    );
  printLines(lines);
}

export async function auditVerifyCommand(
  globals: GlobalOptions,
  o: { json?: boolean; anchor?: string },
): Promise<void> {
  const loaded = await loadStack(globals.config);
  const v = await verifyAuditLog(loaded, o.anchor !== undefined ? { anchorFile: o.anchor } : {});
  if (o.json) printJson(v);
  else if (v.ok) {
    printLines([
      `audit log intact: ${v.records} record(s) in ${v.file}`,
      ...(v.last
        ? [`chain head: record ${v.last.seq}, sha256 ${v.last.hash} (note it in the ticket to pin the log)`]
        : []),
      v.macsChecked
        ? `record MACs checked (audit key ${v.keyFile})`
        : `record MACs NOT checked: no read access to the audit key ${v.keyFile} (the chain${v.anchor ? ' and the anchor were' : ' was'} checked)`,
      ...(v.legacy
        ? [`records 1..${v.legacy} were written before records were MACed (legacy: chained, not MACed)`]
        : []),
      v.anchor
        ? `anchor: record ${v.anchor.seq} (${v.anchorFile})`
        : v.anchorCommand
          ? 'anchor: a command (its heads are not read back; pass --anchor FILE with a copy of them)'
          : v.anchorFile
            ? `anchor: ${v.anchorFile} holds no head yet`
            : 'no anchor (audit.anchor): a truncation hidden by rewriting the state directory needs the audit key to be caught',
      ...v.warnings.map((w) => `warning: ${w}`),
    ]);
  }
  if (!v.ok && v.broken) {
    throw new RekeyError(
      'ERR_AUDIT_BROKEN',
      `${v.file}: record ${v.broken.seq}: ${v.broken.reason}`,
      v.anchorMissing
        ? {
            hint: `Find out who removed it. To re-create it on purpose, check the log against a head you trust (noted in a ticket, or a copy of the anchor: --anchor FILE), then \`touch ${v.anchorFile}\` (verify warns until the next append writes a head).`,
          }
        : {},
    );
  }
}

export async function auditCheckValueCommand(
  globals: GlobalOptions,
  key: string,
  o: { json?: boolean },
): Promise<void> {
  const loaded = await loadStack(globals.config);
  if (!loaded.config.secrets.some((s) => s.key === key)) {
    throw new RekeyError('ERR_ONLY_UNKNOWN', `${key} is not a secret of rekey.yaml`);
  }
  const r = await checkValue(loaded, key);
  if (o.json) printJson({ ok: r.matches, ...r });
  const where = `record #${r.seq} (${r.kind}${r.rotationId ? ` ${r.rotationId}` : ''}, ${r.time})`;
  if (!r.matches) {
    throw new RekeyError(
      'ERR_AUDIT_VALUE_CHANGED',
      `${key}: the ${valueHolder(loaded)}'s value is not the one the audit log recorded last, in ${where}`,
    );
  }
  if (!o.json)
    printLines([`${key}: the ${valueHolder(loaded)}'s value is the one the audit log recorded in ${where}`]);
}

/** What holds the stack's values, for messages: `env file`, or the store's type. */
function valueHolder(loaded: { readonly config: { readonly store?: { readonly type: string } } }): string {
  return loaded.config.store === undefined ? 'env file' : `store (${loaded.config.store.type})`;
}
