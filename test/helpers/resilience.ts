/**
 * Rows for the resilience report (`npm run resilience` → docs/resilience.md). A fault test records
 * what it tried and what happened — before asserting, so a failing case is a failing row — into the
 * JSONL file named by REKEY_RESILIENCE_OUT. Without that variable, nothing is written.
 */
import { appendFileSync } from 'node:fs';

export type ResilienceRow =
  | { kind: 'crash'; suite: string; point: string; target: string; outcome: string; converged: boolean }
  | { kind: 'failure'; suite: string; point: string; cause: string; exit: number | null; rolledBack: boolean }
  | { kind: 'concurrency'; suite: string; case: string; ok: boolean; detail: string }
  /** A refused command: exit `expected` (2 for bad input by default, 5 for change control) and nothing changed. */
  | {
      kind: 'bad-input';
      suite: string;
      case: string;
      exit: number | null;
      expected?: number;
      code: string;
      unchanged: boolean;
    }
  | { kind: 'canary'; suite: string; scope: string; values: number; places: number; occurrences: number }
  /** A teardown with a canary file beside its folders: it removed its own and kept everything else. */
  | { kind: 'cleanup'; suite: string; case: string; removedOwn: boolean; keptOthers: boolean }

  /** A failure inside a step that briefly opens a service (Redis `nopass`): it must end closed. */
  | { kind: 'fail-closed'; suite: string; point: string; cause: string; closed: boolean; detail: string }
  /**
   * A compromise rotation against an attacker's foothold (issue 12): what became of it (removed,
   * reported, not checkable), and whether that is what the test asserted.
   */
  | {
      kind: 'eviction';
      suite: string;
      service: string;
      foothold: string;
      result: 'removed' | 'reported' | 'not checkable';
      ok: boolean;
      /**
       * The eviction matrix's column and row (scripts/resilience.mjs); optional: read from `service`
       * and `foothold` when absent ('PostgreSQL' → PostgreSQL, 'LOGIN role …' → users/roles).
       */
      column?: 'Redis' | 'PostgreSQL' | 'Grafana' | 'JWT' | 'API key';
      row?: 'passwords' | 'connections' | 'sessions' | 'tokens' | 'users/roles';
    };

/** Appends one row (no-op unless REKEY_RESILIENCE_OUT is set). */
export function record(row: ResilienceRow): void {
  const out = process.env.REKEY_RESILIENCE_OUT;
  if (out) appendFileSync(out, `${JSON.stringify(row)}\n`);
}

/** The target a step id names (`stage:REDIS_PASSWORD@end` → REDIS_PASSWORD), else the phase. */
export function targetOf(point: string): string {
  const [step] = point.split('@') as [string];
  return step.split(':')[1] ?? `(${step})`;
}

/** Counts occurrences of any of `values` in `texts`. */
export function occurrences(values: Iterable<string>, texts: Iterable<string>): number {
  let n = 0;
  const all = [...texts];
  for (const v of values) for (const t of all) n += t.split(v).length - 1;
  return n;
}
