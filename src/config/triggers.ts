/** Why a rotation happens (recorded in the journal, the audit log and status). No zod here: the CLI
 * reads it at start-up. */
export const TRIGGERS = ['scheduled', 'compromise', 'release', 'personnel'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/**
 * The triggers rekey records: the four a rotation can be given (`--trigger`), plus `manual` (a hand
 * `rekey rotate` without `--trigger`) and `rollback` (`rekey rollback`). A change request for a
 * rollback has trigger `rollback`.
 */
export const RECORDED_TRIGGERS = [...TRIGGERS, 'manual', 'rollback'] as const;
export type RecordedTrigger = (typeof RECORDED_TRIGGERS)[number];

/** The triggers a change request can name (`rekey request --trigger`). */
export const REQUEST_TRIGGERS = [...TRIGGERS, 'rollback'] as const;
export type RequestTrigger = (typeof REQUEST_TRIGGERS)[number];

/**
 * The trigger a journal records: `meta.recordedTrigger` when the command set one (`manual`,
 * `rollback`), else the trigger the rotation ran with.
 *
 * @example
 * recordedTrigger({ trigger: 'scheduled', meta: { recordedTrigger: 'manual' } }); // 'manual'
 */
export function recordedTrigger(j: {
  readonly trigger: string;
  readonly meta?: object | undefined;
}): RecordedTrigger {
  const r = (j.meta as { readonly recordedTrigger?: unknown } | undefined)?.recordedTrigger;
  if (typeof r === 'string' && (RECORDED_TRIGGERS as readonly string[]).includes(r))
    return r as RecordedTrigger;
  return j.trigger as RecordedTrigger;
}
