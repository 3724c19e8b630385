/** `rekey plan`: the read-only preflight checks and the steps a rotation would take. Changes nothing. */
import path from 'node:path';
import type { Trigger } from '../config/schema.js';
import { currentText, preflight } from '../engine/engine.js';
import { silentProgress } from '../engine/progress.js';
import { RekeyError } from '../lib/errors.js';
import { color } from '../lib/log.js';
import { type GlobalOptions, openStack } from './context.js';
import { doctorForPlan, findingLine } from './doctor-gate.js';
import { printJson, printLines } from './output.js';

export interface PlanOptions {
  only?: string[];
  trigger: Trigger;
  json?: boolean;
  force?: boolean;
}

export async function planCommand(globals: GlobalOptions, opts: PlanOptions): Promise<void> {
  const deps = await openStack(globals, { progress: silentProgress });
  const pre = await preflight(
    deps,
    {
      trigger: opts.trigger,
      ...(opts.only ? { only: opts.only } : {}),
      ...(opts.force ? { force: true } : {}),
    },
    { inspect: true },
  );
  // The doctor's findings at or above high (service traps come from the targets' notes below).
  const doctor = await doctorForPlan(deps.loaded);
  const secrets = pre.selected.map((t) => {
    const d = t.describe(opts.trigger);
    return {
      key: t.key,
      type: t.type,
      current: pre.current[t.key] ? currentText(pre.current[t.key]!) : 'not checked',
      overlap: d.overlap,
      actions: d.actions,
      notes: pre.notes[t.key] ?? [],
    };
  });
  const failing = secrets.filter((s) => s.current !== 'ok');
  const warnings = [
    ...pre.plan.warnings,
    ...secrets.flatMap((s) => s.notes.filter((n) => n.level === 'warn').map((n) => `${s.key}: ${n.text}`)),
  ];
  if (opts.json) {
    printJson({
      ok: failing.length === 0,
      stack: deps.loaded.stack,
      ...(deps.loaded.envFile === undefined ? {} : { envFile: deps.loaded.envFile }),
      store: { type: deps.store.type, name: deps.store.name },
      trigger: opts.trigger,
      keys: pre.plan.keys,
      purgeSessions: pre.plan.purgeSessions,
      doctor,
      secrets,
      steps: pre.plan.steps,
      warnings,
    });
  } else {
    const lines: string[] = [
      `rekey plan — stack ${deps.loaded.stack}, trigger ${opts.trigger}, ${
        deps.loaded.envFile === undefined
          ? `store ${deps.store.name}`
          : `env file ${path.basename(deps.loaded.envFile)}`
      }`,
    ];
    if (doctor.length > 0) {
      lines.push('', 'doctor (high and critical; `rekey doctor` lists all):');
      for (const f of doctor) {
        const line = `  ${findingLine(f)}`;
        lines.push(f.severity === 'critical' ? color.red(line) : color.yellow(line));
      }
    }
    lines.push('', 'secrets:');
    for (const s of secrets) {
      const cur =
        s.current === 'ok' ? color.green('current value accepted') : color.red(`current value: ${s.current}`);
      lines.push(`  ${color.bold(s.key)} (${s.type}) — ${cur}`);
      for (const a of s.actions) lines.push(`    - ${a}`);
      for (const n of s.notes) lines.push(`    ${n.level === 'warn' ? color.yellow('! ') : '  '}${n.text}`);
    }
    lines.push('', 'steps:');
    for (const [i, s] of pre.plan.steps.entries()) {
      lines.push(`  ${String(i + 1).padStart(2)}. ${s.id.padEnd(28)} ${color.dim(s.title)}`);
    }
    if (warnings.length > 0) lines.push('', ...warnings.map((w) => `${color.yellow('warning')} ${w}`));
    lines.push('', color.dim('nothing was changed (dry run)'));
    printLines(lines);
  }
  if (failing.length > 0) {
    throw new RekeyError(
      'ERR_PREFLIGHT',
      `${failing.map((s) => s.key).join(', ')}: current value not accepted; a rotation would stop at preflight`,
    );
  }
}
