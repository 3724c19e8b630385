/**
 * Runs the doctor's checks (read-only) and gathers their findings, most severe first. A check that
 * cannot run (no git, a file unreadable, a service down) becomes an RK901 "could not check" finding
 * naming it: `rekey doctor` never fails because one check could not look.
 */
import { safeMessage } from '../lib/redact.js';
import { composeCheck } from './checks/compose.js';
import { filesCheck } from './checks/files.js';
import { gitHistoryCheck } from './checks/git-history.js';
import { grafanaEnvCheck } from './checks/grafana-env.js';
import { policyCheck } from './checks/policy.js';
import { servicesCheck } from './checks/services.js';
import { sessionsCheck } from './checks/sessions.js';
import { valuesCheck } from './checks/values.js';
import type { DoctorContext } from './context.js';
import { type Check, COULD_NOT_CHECK, type Finding, type Rule, rank } from './finding.js';

/** Every check, in report order. */
export const CHECKS: readonly Check<DoctorContext>[] = [
  valuesCheck,
  gitHistoryCheck,
  filesCheck,
  grafanaEnvCheck,
  servicesCheck,
  composeCheck,
  policyCheck,
  sessionsCheck,
];

/** The rule catalogue (SARIF `rules`, `--only`/`--skip` validation). */
export function allRules(checks: readonly Check<DoctorContext>[] = CHECKS): Rule[] {
  return [...checks.flatMap((c) => c.rules), COULD_NOT_CHECK];
}

export interface DoctorOptions {
  /** Rule ids to report (all when absent). */
  readonly only?: readonly string[];
  readonly skip?: readonly string[];
  readonly checks?: readonly Check<DoctorContext>[];
}

export interface DoctorReport {
  readonly findings: readonly Finding[];
  /** The checks that ran, by name. */
  readonly checked: readonly string[];
}

/**
 * @example
 * const report = await runDoctor(ctx, { skip: ['RK602'] });
 * report.findings[0]; // { rule: 'RK201', severity: 'critical', message: 'the current value of …' }
 */
export async function runDoctor(ctx: DoctorContext, options: DoctorOptions = {}): Promise<DoctorReport> {
  const wanted = (id: string) =>
    (options.only === undefined || options.only.includes(id)) && !(options.skip ?? []).includes(id);
  const checks = (options.checks ?? CHECKS).filter((c) => c.rules.some((r) => wanted(r.id)));
  const results = await Promise.all(
    checks.map(async (c): Promise<Finding[]> => {
      try {
        return await c.run(ctx);
      } catch (e) {
        return [
          {
            rule: COULD_NOT_CHECK.id,
            severity: COULD_NOT_CHECK.severity,
            message: `could not check ${c.name}: ${safeMessage(e)}`,
            why: `The ${c.name} rules (${c.rules.map((r) => r.id).join(', ')}) were not checked.`,
            fix: 'Fix what the message names (install git, make the file readable, start the service) and run rekey doctor again.',
          },
        ];
      }
    }),
  );
  const findings = results
    .flat()
    .filter((f) => wanted(f.rule) || f.rule === COULD_NOT_CHECK.id)
    .sort((a, b) => rank(b.severity) - rank(a.severity) || a.rule.localeCompare(b.rule));
  return { findings, checked: checks.map((c) => c.name) };
}
