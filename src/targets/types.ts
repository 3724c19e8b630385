/** The `Target` port and its value types live in src/engine/ports.ts; re-exported for the targets. */
export type {
  CheckResult,
  EvictionFinding,
  PlanNote,
  Target,
  TargetContext,
  TargetDescription,
  TargetFacts,
  Values,
} from '../engine/ports.js';
