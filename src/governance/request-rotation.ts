/**
 * `rekey request`: the keys a rotation with these options would rotate (the engine's own read-only
 * preflight, without touching any service), written as a change request.
 */
import { rollbackPlan } from '../backups/rollback-source.js';
import type { RequestTrigger } from '../config/triggers.js';
import { preflight } from '../engine/engine.js';
import { RekeyError } from '../lib/errors.js';
import { createRequest } from './approvals/create.js';
import type { ChangeRequest } from './approvals/request.js';
import { type ReturnTo, returnToFingerprint } from './approvals/return-to.js';
import { approvalsConfig } from './approvals/state.js';
import { operatorIdentity } from './identity.js';
import type { StackDeps } from './stack-deps.js';

export interface RequestRotationInput {
  /** `rollback`: a request for `rekey rollback` of the keys (`--only`, else every secret). */
  readonly trigger: RequestTrigger;
  readonly ticket: string;
  readonly only?: readonly string[];
  readonly force?: boolean;
  readonly reason?: string;
  readonly operator?: string;
  /** `--key`: the requester's SSH key; signs the request (the requester is the key's principal). */
  readonly key?: string;
  /** A rollback request: `--backup` (and `--identity` for an age archive), as `rekey rollback` takes them. */
  readonly backup?: string;
  readonly identity?: string;
}

/**
 * Creates the change request for `rekey rotate` with the same `--only`/`--trigger`/`--force`.
 *
 * @example
 * const { request } = await requestRotation(deps, { trigger: 'scheduled', ticket: 'CHG-1042' });
 * request.keys; // ['JWT_SECRET', 'API_SECRET_KEY', ...]
 */
export async function requestRotation(
  deps: StackDeps,
  input: RequestRotationInput,
): Promise<{ request: ChangeRequest; file: string }> {
  approvalsConfig(deps.loaded);
  if (input.trigger !== 'rollback' && (input.backup !== undefined || input.identity !== undefined)) {
    throw new RekeyError(
      'ERR_USAGE',
      '--backup and --identity name what a rollback returns to: they need --trigger rollback',
    );
  }
  const rollback = input.trigger === 'rollback' ? await rollbackRequest(deps, input) : undefined;
  const keys =
    input.trigger === 'rollback'
      ? (rollback?.keys ?? [])
      : (
          await preflight(
            deps,
            {
              trigger: input.trigger,
              ...(input.only ? { only: input.only } : {}),
              ...(input.force ? { force: true } : {}),
            },
            { checkCurrent: false },
          )
        ).plan.keys;
  return createRequest(deps.loaded, {
    keys,
    trigger: input.trigger,
    ticket: input.ticket,
    ...(input.reason ? { reason: input.reason } : {}),
    requester: await operatorIdentity(deps.loaded.dir, input.operator),
    ...(input.key !== undefined ? { key: input.key } : {}),
    ...(rollback ? { returnTo: rollback.returnTo } : {}),
  });
}

/**
 * A rollback request names exactly what `rekey rollback` with the same --backup would do: the secrets
 * that differ from the source, and (as a fingerprint) the values they return to.
 */
async function rollbackRequest(
  deps: StackDeps,
  input: RequestRotationInput,
): Promise<{ keys: readonly string[]; returnTo: ReturnTo }> {
  const plan = await rollbackPlan(deps, {
    ...(input.backup !== undefined ? { backup: input.backup } : {}),
    ...(input.identity !== undefined ? { identity: input.identity } : {}),
  });
  if (plan.keys.length === 0) {
    throw new RekeyError(
      'ERR_USAGE',
      `the ${deps.store.label} already holds ${plan.source.what}: there is nothing to roll back; nothing was written`,
      { hint: 'Name another backup with --backup PATH.' },
    );
  }
  const asked = input.only === undefined ? undefined : [...input.only].sort().join(',');
  if (asked !== undefined && asked !== [...plan.keys].sort().join(',')) {
    throw new RekeyError(
      'ERR_USAGE',
      `a rollback to ${plan.source.what} returns ${plan.keys.join(', ')} (what differs), not --only ${input.only?.join(',')}; nothing was written`,
      {
        hint: `Drop --only (a rollback returns every secret that differs), or use --only ${plan.keys.join(',')}.`,
      },
    );
  }
  return {
    keys: plan.keys,
    returnTo: { what: plan.source.what, fingerprint: await returnToFingerprint(deps.loaded, plan.written) },
  };
}
