/**
 * The crash matrix's points, from the protocol itself: the steps `rekey plan --json` lists for a test
 * stack, each at its two boundaries (`<step>@begin`, `<step>@end`: src/lib/faults.ts). A step added to
 * the protocol is crashed at by the matrices as soon as the plan has it.
 */
import type { CliResult } from './stack.js';

export interface PlannedStep {
  readonly id: string;
  readonly phase: string;
  readonly target?: string;
}

/** The steps of a `rekey plan --json` run; throws with its output when it printed no plan. */
export function planSteps(r: CliResult): PlannedStep[] {
  let doc: { steps?: PlannedStep[] } = {};
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    // no JSON: reported below
  }
  if (!Array.isArray(doc.steps) || doc.steps.length === 0) {
    throw new Error(
      `rekey plan --json printed no steps (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  }
  return doc.steps;
}

/** Every step at its begin and end boundary, in plan order. */
export function crashPoints(steps: readonly PlannedStep[]): string[] {
  return steps.flatMap((s) => [`${s.id}@begin`, `${s.id}@end`]);
}
