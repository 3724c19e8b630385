/**
 * Change control: change requests signed by two people with their SSH keys (`ssh-keygen -Y`,
 * namespace `rekey`), checked before a rotation changes anything; break-glass rotations recorded and
 * approved after the fact.
 */
import { type LoadedConfig, ms } from '../../config/load.js';
import { type ChangeRequest, isExpired, listRequests } from './request.js';
import { type ApprovalState, approvalState, approvalsConfig } from './state.js';
import { requestUsed } from './used.js';

export { type ApproveInput, approveRequest } from './approve.js';
export { authorizeRequest, type RotationToAuthorize } from './authorize.js';
export { createRequest, type NewRequest } from './create.js';
export type { Approval, ChangeRequest, RequestUse } from './request.js';
export { loadRequest, newRequestId, requestDigest, requestsDir } from './request.js';
export { NAMESPACE } from './ssh.js';
export type { ApprovalState, RoleApproval } from './state.js';
export { allowedSignersFile, approvalState, approvalsConfig } from './state.js';

export type RequestStatus =
  | 'pending'
  | 'approved'
  | 'used'
  | 'expired'
  | 'invalid'
  | 'approval outstanding'
  | 'approved after the fact';

export interface RequestOverview {
  readonly id: string;
  readonly status: RequestStatus;
  readonly keys: readonly string[];
  readonly trigger: string;
  readonly ticket?: string;
  readonly requester: string;
  readonly created: string;
  readonly expires: string;
  readonly breakGlass?: string;
  readonly rotationId?: string;
  readonly approvals: ApprovalState['approvals'];
  readonly missing: ApprovalState['missing'];
  readonly problems: readonly string[];
}

/**
 * Every request of the stack with its status and what it still needs (signatures verified).
 *
 * @example
 * (await requestsOverview(loaded)).map((r) => `${r.id} ${r.status}`); // ['req-20261125-3fa2c1 pending']
 */
export async function requestsOverview(loaded: LoadedConfig, now = new Date()): Promise<RequestOverview[]> {
  const out: RequestOverview[] = [];
  for (const { request } of await listRequests(loaded)) out.push(await overview(loaded, request, now));
  return out;
}

async function overview(loaded: LoadedConfig, r: ChangeRequest, now: Date): Promise<RequestOverview> {
  const state = await approvalState(loaded, r);
  const use = await requestUsed(loaded, r.id);
  const unsigned =
    !state.requester.signed && r.breakGlass === undefined && approvalsConfig(loaded).forbidSelfApproval;
  const problems = [
    ...(state.altered ? ['altered after it was created'] : []),
    ...(state.requester.signed && state.requester.verified === undefined
      ? [`requester signature: ${state.requester.why ?? 'does not verify'}`]
      : []),
    ...(unsigned
      ? ['not signed by its requester (approvals.forbidSelfApproval): create it with `rekey request --key`']
      : []),
    ...state.invalid.map((i) => `signature does not verify: ${i}`),
  ];
  let status: RequestStatus;
  if (r.breakGlass !== undefined)
    status = state.satisfied ? 'approved after the fact' : 'approval outstanding';
  else if (problems.length > 0) status = 'invalid';
  else if (use) status = 'used';
  else if (isExpired(r, now, ms(approvalsConfig(loaded).expiry))) status = 'expired';
  else status = state.satisfied ? 'approved' : 'pending';
  return {
    id: r.id,
    status,
    keys: r.keys,
    trigger: r.trigger,
    ...(r.ticket ? { ticket: r.ticket } : {}),
    requester: r.requester,
    created: r.created,
    expires: r.expires,
    ...(r.breakGlass ? { breakGlass: r.breakGlass } : {}),
    ...(use?.rotationId ? { rotationId: use.rotationId } : {}),
    approvals: state.approvals,
    missing: state.missing,
    problems,
  };
}

/**
 * Break-glass rotations still waiting for their after-the-fact approvals (for `rekey status`: shown
 * as "approval outstanding" until every required role has signed). Empty without `approvals:`.
 *
 * @example
 * await outstandingApprovals(loaded);
 * // [{ requestId: 'req-20261125-3fa2c1', rotationId: '20261125T100000Z-a1b2c3', keys: ['JWT_SECRET'], time: '2026-11-25T10:00:00.000Z' }]
 */
export async function outstandingApprovals(
  loaded: LoadedConfig,
): Promise<Array<{ requestId: string; rotationId?: string; keys: string[]; time: string }>> {
  if (loaded.config.approvals === undefined) return [];
  const out: Array<{ requestId: string; rotationId?: string; keys: string[]; time: string }> = [];
  for (const { request } of await listRequests(loaded)) {
    if (request.breakGlass === undefined) continue;
    const satisfied = await approvalState(loaded, request).then(
      (s) => s.satisfied,
      () => false,
    );
    if (satisfied) continue;
    const use = await requestUsed(loaded, request.id);
    out.push({
      requestId: request.id,
      ...(use?.rotationId ? { rotationId: use.rotationId } : {}),
      keys: [...request.keys],
      time: request.created,
    });
  }
  return out;
}
