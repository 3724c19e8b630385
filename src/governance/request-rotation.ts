/**
 * `rekey request`: the keys a rotation with these options would rotate (the engine's own read-only
 * preflight, without touching any service), written as a change request.
 */
import type { RequestTrigger } from '../config/triggers.js';
import { preflight } from '../engine/engine.js';
import { createRequest } from './approvals/create.js';
import type { ChangeRequest } from './approvals/request.js';
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
  const pre = await preflight(
    deps,
    {
      trigger: input.trigger === 'rollback' ? 'scheduled' : input.trigger,
      ...(input.only ? { only: input.only } : {}),
      ...(input.force ? { force: true } : {}),
    },
    { checkCurrent: false },
  );
  return createRequest(deps.loaded, {
    keys: pre.plan.keys,
    trigger: input.trigger,
    ticket: input.ticket,
    ...(input.reason ? { reason: input.reason } : {}),
    requester: await operatorIdentity(deps.loaded.dir, input.operator),
    ...(input.key !== undefined ? { key: input.key } : {}),
  });
}
