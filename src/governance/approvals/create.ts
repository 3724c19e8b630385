/** `rekey request`: a new change request, recorded in the audit log. */
import { type LoadedConfig, ms } from '../../config/load.js';
import type { RequestTrigger } from '../../config/triggers.js';
import { redactor } from '../../lib/redact.js';
import { appendAudit } from '../audit/append.js';
import { auditPaths } from '../audit/read.js';
import { fingerprintSecrets } from '../audit/secrets.js';
import type { BreakGlassIdentity } from '../break-glass-identity.js';
import { buildRequest, type ChangeRequest, newRequestId, saveNewRequest } from './request.js';
import { stackBinding } from './stack-id.js';
import { approvalsConfig } from './state.js';

export interface NewRequest {
  /** The keys the rotation will rotate (as the plan computes them). */
  readonly keys: readonly string[];
  readonly trigger: RequestTrigger;
  readonly requester: string;
  readonly ticket?: string;
  readonly reason?: string;
  /** A break-glass rotation's reason: the request records it, to be approved after the fact. */
  readonly breakGlass?: string;
  /** Who broke glass (a verified SSH principal, or the OS user), recorded in the audit log. */
  readonly breakGlassBy?: BreakGlassIdentity;
  readonly id?: string;
  readonly now?: Date;
}

/**
 * Writes a change request valid for `approvals.expiry` and records it in the audit log (kind
 * `request`, or `break-glass`).
 *
 * @example
 * const { request } = await createRequest(loaded, { keys: ['JWT_SECRET'], trigger: 'scheduled',
 *   ticket: 'CHG-1042', requester: 'carol@example.com' });
 * request.id; // 'req-20261125-3fa2c1'
 */
export async function createRequest(
  loaded: LoadedConfig,
  input: NewRequest,
): Promise<{ request: ChangeRequest; file: string }> {
  const config = approvalsConfig(loaded);
  const now = input.now ?? new Date();
  const request = buildRequest({
    id: input.id ?? newRequestId(now),
    stack: loaded.stack,
    keys: [...input.keys],
    trigger: input.trigger,
    ...(input.ticket ? { ticket: redactor.redact(input.ticket) } : {}),
    ...(input.reason ? { reason: redactor.redact(input.reason) } : {}),
    requester: input.requester,
    created: now.toISOString(),
    expires: new Date(now.getTime() + ms(config.expiry)).toISOString(),
    ...(input.breakGlass ? { breakGlass: redactor.redact(input.breakGlass) } : {}),
    ...(await stackBinding(loaded)),
  });
  const file = await saveNewRequest(loaded, request);
  await appendAudit(auditPaths(loaded), {
    time: request.created,
    kind: input.breakGlass ? 'break-glass' : 'request',
    trigger: request.trigger,
    ...(request.ticket ? { ticket: request.ticket } : {}),
    operator: request.requester,
    requestId: request.id,
    ...(request.breakGlass ? { breakGlass: request.breakGlass } : {}),
    ...(input.breakGlassBy ? { breakGlassBy: input.breakGlassBy } : {}),
    ...(request.reason ? { reason: request.reason } : {}),
    expires: request.expires,
    secrets: await fingerprintSecrets(loaded, request.keys),
    outcome: 'recorded',
  });
  return { request, file };
}
