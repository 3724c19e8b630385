/**
 * Policy and observability: secret ages and states (`rekey status`), the CI reminder (`rekey check`),
 * Prometheus metrics (`rekey serve`) and unattended scheduled rotation (`rekey schedule`).
 * See README.md in this folder for what each file holds.
 */
export {
  type CheckFinding,
  type CheckResult,
  checkFailure,
  evaluateCheck,
  githubAnnotations,
  lateBreakGlass,
} from './check.js';
export { readPolicyInputs, readStatus, statusConfigOf } from './inputs.js';
export { buildRegistry, METRICS } from './metrics.js';
export { ageBar, renderCheck, renderStatus } from './render.js';
export { type Clock, sleepUntil, systemClock } from './schedule/clock.js';
export { engineRotator, scheduleOperator } from './schedule/engine-rotate.js';
export { runFailure, runSucceeded } from './schedule/outcome.js';
export {
  type KeyResult,
  type RotateOne,
  type RunReport,
  Scheduler,
  type ScheduleSettings,
  scheduleSettingsOf,
} from './schedule/scheduler.js';
export { ScheduleStore } from './schedule/store.js';
export {
  allowedUnattendedTypes,
  assertSchedulable,
  assertUnattendedAllowed,
  DEFAULT_UNATTENDED_TYPES,
} from './schedule/unattended.js';
export { MetricsSource, scrapeMetrics, serveMetrics } from './serve.js';
export { DEFAULT_HOST, DEFAULT_PORT, isLoopback } from './server.js';
export { computeStatus, type StatusConfig } from './status.js';
export type * from './types.js';
