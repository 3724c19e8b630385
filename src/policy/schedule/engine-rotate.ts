/**
 * The scheduler's real rotation: the engine's `rotate` for one secret, trigger `scheduled`, with the
 * standing approval recorded in the journal meta and the audit record (`unattended: true`).
 */
import os from 'node:os';
import { rotate } from '../../engine/engine.js';
import type { RotationHooks } from '../../engine/run.js';
import { governRotation } from '../../governance/hooks.js';
import type { StackDeps } from '../../governance/stack-deps.js';
import type { RotateOne } from './scheduler.js';

/**
 * Who an unattended rotation is recorded as.
 *
 * @example
 * scheduleOperator(); // 'rekey schedule (rekey@db1)'
 */
export function scheduleOperator(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (a container's arbitrary uid): keep 'unknown'
  }
  return `rekey schedule (${user}@${os.hostname()})`;
}

/**
 * A {@link RotateOne} running the engine behind change control: the governance hooks authorize it
 * as a standing approval (every key `unattended: true`) and write its audit record. `makeDeps` is
 * called for every rotation so each one reads the config and env file afresh.
 *
 * @example
 * const rotateOne = engineRotator(() => openStack(globals, { progress, control }));
 * await rotateOne('POSTGRES_PASSWORD'); // { outcome: 'rotated', id: '20260101T030512Z-a1b2c3', ... }
 */
export function engineRotator(
  makeDeps: () => Promise<StackDeps>,
  options: {
    operator?: string;
    warn?: (message: string) => void;
    /** Adds what the CLI wires beside change control (notifications) to a rotation's hooks. */
    wrapHooks?: (deps: StackDeps, hooks: RotationHooks) => RotationHooks;
  } = {},
): RotateOne {
  const operator = options.operator ?? scheduleOperator();
  return async (key) => {
    const deps = await makeDeps();
    const { meta, hooks } = await governRotation(deps.loaded, {
      trigger: 'scheduled',
      operator,
      unattended: true,
      ...(options.warn ? { warn: options.warn } : {}),
    });
    return rotate(
      { ...deps, hooks: options.wrapHooks ? options.wrapHooks(deps, hooks) : hooks },
      {
        trigger: 'scheduled',
        only: [key],
        meta: { ...meta, unattended: true, standingApproval: `rekey.yaml: ${key} has unattended: true` },
      },
    );
  };
}
