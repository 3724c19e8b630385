/**
 * What `rekey doctor` reports: findings with a stable rule id (`RK101`…), a severity, one line saying
 * what is wrong, one why it matters and one with the fix. A finding names keys and files, never a
 * value. Each check module declares its rules ({@link Rule}); the catalogue is their union.
 */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Orders severities: `rank('high') > rank('medium')`. */
export const rank = (s: Severity): number => SEVERITIES.indexOf(s);

/** A rule: what a check can find, with its default severity (a finding may raise or lower it). */
export interface Rule {
  /** Stable id: `RK` + three digits (RK1xx values, RK2xx git, RK3xx files, RK4xx services, RK5xx compose, RK6xx policy, RK7xx sessions, RK9xx doctor itself). */
  readonly id: string;
  /** kebab-case name (SARIF `name`). */
  readonly name: string;
  readonly severity: Severity;
  /** One line: what the rule finds. */
  readonly summary: string;
}

/** Where a finding points: a file (absolute path) and, when known, a 1-based line. */
export interface FindingLocation {
  readonly file: string;
  readonly line?: number;
}

export interface Finding {
  readonly rule: string;
  readonly severity: Severity;
  /** What is wrong (keys and files named, never a value). */
  readonly message: string;
  /** Why it matters. */
  readonly why: string;
  /** The exact fix. */
  readonly fix: string;
  /** The managed keys concerned. */
  readonly keys?: readonly string[];
  readonly location?: FindingLocation;
}

/** A check: a small module with its rules and a function that finds what it finds (read-only). */
export interface Check<C> {
  /** Short name shown in "could not check" findings. */
  readonly name: string;
  readonly rules: readonly Rule[];
  run(context: C): Promise<Finding[]>;
}

/** The doctor's own rule: a check that could not run says so instead of failing the command. */
export const COULD_NOT_CHECK: Rule = {
  id: 'RK901',
  name: 'could-not-check',
  severity: 'info',
  summary: 'a check could not run (git missing, a file unreadable, a service down)',
};
