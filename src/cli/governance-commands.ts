/**
 * Commands of change control and audit: request, approve, requests, audit show|verify|check-value;
 * and the governance options of rotate (--request, --break-glass), rollback (--identity) and recover
 * (--operator), plus the "change control is off" warning of plan.
 */
import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { TRIGGERS, type Trigger } from '../config/schema.js';
import { RekeyError } from '../core/errors.js';
import { log } from '../core/log.js';
import { silentProgress } from '../core/progress.js';
import { approvalState, approveRequest, requestsOverview } from '../governance/approvals/index.js';
import { checkValue, readAuditLog, verifyAuditLog } from '../governance/audit/index.js';
import { auditFileOf } from '../governance/audit/read.js';
import { auditLines, requestLines, requestsLines } from '../governance/format.js';
import { changeControlWarning } from '../governance/hooks.js';
import { operatorIdentity } from '../governance/identity.js';
import { requestRotation } from '../governance/request-rotation.js';
import { type GlobalOptions, openStack } from './context.js';
import { printJson, printLines } from './output.js';

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerGovernanceCommands(program: Command, globals: () => GlobalOptions): void {
  extendEngineCommands(program, globals);

  program
    .command('request')
    .description('create a change request: what to rotate, to be approved before `rotate --request ID`')
    .addOption(
      new Option('--trigger <trigger>', 'why the rotation happens').choices(TRIGGERS).makeOptionMandatory(),
    )
    .requiredOption('--ticket <id>', 'change ticket')
    .option('--only <keys>', 'comma-separated keys to rotate', list)
    .option('--force', 'with --trigger personnel, honour --only')
    .option('--reason <text>', 'why, shown to the approvers')
    .option('--operator <name>', 'who requests (default: git user.email, else the OS user)')
    .option('--json', 'print one JSON document on stdout')
    .action((o) => requestCommand(globals(), o));

  program
    .command('approve <request>')
    .description('sign a change request with your SSH key (ssh-keygen -Y sign, namespace rekey)')
    .requiredOption('--role <role>', 'the role you approve as (approvals.require)')
    .option('--key <path>', 'your private SSH key, or its .pub with the key in ssh-agent')
    .option('--operator <name>', 'who runs the command (the approver is the key’s principal)')
    .option('--json', 'print one JSON document on stdout')
    .action((ref: string, o) => approveCommand(globals(), ref, o));

  program
    .command('requests')
    .description('list change requests and what each still needs')
    .option('--json', 'print one JSON document on stdout')
    .action((o) => requestsCommand(globals(), o));

  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('show')
    .description('print the history')
    .option('--limit <n>', 'only the newest N records', (v) => Number.parseInt(v, 10))
    .option('--json', 'print one JSON document on stdout')
    .action((o) => auditShowCommand(globals(), o));
  audit
    .command('verify')
    .description('check the hash chain: exit 1 naming the first broken record')
    .option('--json', 'print one JSON document on stdout')
    .action((o) => auditVerifyCommand(globals(), o));
  audit
    .command('check-value <key>')
    .description("does the env file's value of KEY match the fingerprint the audit recorded last?")
    .option('--json', 'print one JSON document on stdout')
    .action((key: string, o) => auditCheckValueCommand(globals(), key, o));
}

/** Options of rotate, rollback and recover that belong to change control; the plan warning. */
function extendEngineCommands(program: Command, globals: () => GlobalOptions): void {
  const find = (name: string) => program.commands.find((c) => c.name() === name);
  find('rotate')
    ?.option('--request <id>', 'the approved change request authorizing this rotation')
    .option('--break-glass <reason>', 'with --trigger compromise: rotate now, approvals after the fact');
  find('rollback')?.option('--identity <file>', 'age identity file, to roll back from an encrypted archive');
  find('recover')?.option('--operator <name>', 'who recovers (default: git user.email, else the OS user)');
  find('plan')?.hook('preAction', async () => {
    const loaded = await loadConfig(globals().config).catch(() => undefined);
    const warning = loaded ? changeControlWarning(loaded) : undefined;
    if (warning) log.warn(warning);
  });
}

async function requestCommand(
  globals: GlobalOptions,
  o: {
    trigger: Trigger;
    ticket: string;
    only?: string[];
    force?: boolean;
    reason?: string;
    operator?: string;
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
  });
  if (o.json) {
    printJson({ ok: true, file, ...request });
    return;
  }
  const state = await approvalState(deps.loaded, request);
  printLines([
    ...requestLines(request, state),
    '',
    `approvers: rekey approve ${request.id} --role ROLE [--key PATH]`,
    `then:      rekey rotate --request ${request.id} --trigger ${request.trigger}${o.only ? ` --only ${o.only.join(',')}` : ''}`,
  ]);
}

async function approveCommand(
  globals: GlobalOptions,
  ref: string,
  o: { role: string; key?: string; operator?: string; json?: boolean },
): Promise<void> {
  const loaded = await loadConfig(globals.config);
  const { request, approval, state } = await approveRequest(loaded, ref, {
    role: o.role,
    ...(o.key ? { key: o.key } : {}),
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

async function requestsCommand(globals: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const loaded = await loadConfig(globals.config);
  const warning = changeControlWarning(loaded);
  const list = warning ? [] : await requestsOverview(loaded);
  if (o.json) {
    printJson({ ok: true, requests: list, ...(warning ? { warnings: [warning] } : {}) });
    return;
  }
  printLines(warning ? [warning] : requestsLines(list));
}

async function auditShowCommand(
  globals: GlobalOptions,
  o: { json?: boolean; limit?: number },
): Promise<void> {
  const loaded = await loadConfig(globals.config);
  const records = await readAuditLog(auditFileOf(loaded));
  const shown = o.limit !== undefined && o.limit > 0 ? records.slice(-o.limit) : records;
  if (o.json) printJson({ ok: true, file: auditFileOf(loaded), records: shown });
  else printLines(auditLines(shown));
}

async function auditVerifyCommand(globals: GlobalOptions, o: { json?: boolean }): Promise<void> {
  const loaded = await loadConfig(globals.config);
  const v = await verifyAuditLog(loaded);
  if (o.json) printJson(v);
  else if (v.ok) {
    printLines([
      `audit log intact: ${v.records} record(s) in ${v.file}`,
      ...(v.last
        ? [`chain head: record ${v.last.seq}, sha256 ${v.last.hash} (note it in the ticket to pin the log)`]
        : []),
      ...v.warnings.map((w) => `warning: ${w}`),
    ]);
  }
  if (!v.ok && v.broken) {
    throw new RekeyError('ERR_AUDIT_BROKEN', `${v.file}: record ${v.broken.seq}: ${v.broken.reason}`);
  }
}

async function auditCheckValueCommand(
  globals: GlobalOptions,
  key: string,
  o: { json?: boolean },
): Promise<void> {
  const loaded = await loadConfig(globals.config);
  if (!loaded.config.secrets.some((s) => s.key === key)) {
    throw new RekeyError('ERR_ONLY_UNKNOWN', `${key} is not a secret of rekey.yaml`);
  }
  const r = await checkValue(loaded, key);
  if (o.json) printJson({ ok: r.matches, ...r });
  const where = `record #${r.seq} (${r.kind}${r.rotationId ? ` ${r.rotationId}` : ''}, ${r.time})`;
  if (!r.matches) {
    throw new RekeyError(
      'ERR_AUDIT_VALUE_CHANGED',
      `${key}: the env file's value is not the one the audit log recorded last, in ${where}`,
    );
  }
  if (!o.json) printLines([`${key}: the env file's value is the one the audit log recorded in ${where}`]);
}
