/**
 * The change-control gate of `rekey rotate --request ID`, run after the read-only preflight and
 * before anything changes. Refuses (exit 5, naming what is wrong) unless the request is intact, for
 * this stack, unused, unexpired, for exactly these keys and this trigger, and every required role is
 * signed by a principal listed for it, by distinct principals, with signatures that verify. Then
 * claims the request (single use).
 */
import os from 'node:os';
import { type LoadedConfig, ms } from '../../config/load.js';
import type { RequestTrigger } from '../../config/triggers.js';
import { RekeyError } from '../../lib/errors.js';
import {
  type ChangeRequest,
  claimRequest,
  expiresAt,
  isExpired,
  loadRequest,
  requestDigest,
} from './request.js';
import { type RequestedBy, unsignedRequest } from './requester.js';
import type { ReturnTo } from './return-to.js';
import { bindingMismatch, readStackId } from './stack-id.js';
import { approvalState, approvalsConfig, type RoleApproval } from './state.js';
import { requestUsed } from './used.js';

export interface RotationToAuthorize {
  readonly keys: readonly string[];
  /** The rotation's trigger, or `rollback` for `rekey rollback`. */
  readonly trigger: RequestTrigger;
  /** `--ticket`, when given: must be the request's. */
  readonly ticket?: string;
  readonly operator: string;
  readonly now?: Date;
  /** `rekey rollback`: the values it returns to (return-to.ts); the request must name the same. */
  readonly returnTo?: ReturnTo;
}

/**
 * Checks a request for this rotation and claims it. Throws ERR_APPROVAL_MISSING (a role lacks a valid
 * approval) or ERR_APPROVAL_INVALID (anything else wrong with the request), both exit 5.
 *
 * @example
 * const { approvals } = await authorizeRequest(loaded, 'req-20261125-3fa2c1', { keys: plan.keys,
 *   trigger: 'scheduled', operator: 'carol@example.com' });
 */
export async function authorizeRequest(
  loaded: LoadedConfig,
  ref: string,
  rotation: RotationToAuthorize,
): Promise<{ request: ChangeRequest; approvals: readonly RoleApproval[]; requestedBy?: RequestedBy }> {
  const now = rotation.now ?? new Date();
  let request: ChangeRequest;
  try {
    request = (await loadRequest(loaded, ref)).request;
  } catch (e) {
    if (e instanceof RekeyError && e.code === 'ERR_REQUEST_NOT_FOUND') {
      throw new RekeyError('ERR_APPROVAL_INVALID', e.message, { hint: e.hint });
    }
    throw e;
  }
  const id = request.id;
  const invalid = (message: string, hint?: string) =>
    new RekeyError(
      'ERR_APPROVAL_INVALID',
      `change request ${id}: ${message}; nothing was changed`,
      hint ? { hint } : {},
    );

  if (requestDigest(request) !== request.digest) throw invalid('it was altered after it was created');
  if (request.stack !== loaded.stack) throw invalid(`it is for stack ${request.stack}, not ${loaded.stack}`);
  const elsewhere = bindingMismatch(request, {
    stackId: await readStackId(loaded),
    envFile: loaded.envRealPath,
    host: os.hostname(),
  });
  if (elsewhere) {
    throw invalid(
      elsewhere,
      'A request is for the one stack it was created on: run `rekey request` on this stack.',
    );
  }
  if (request.breakGlass !== undefined) {
    throw invalid('it records a break-glass rotation and cannot authorize another one');
  }
  // The requester must be proven by a signature where the requester may not approve.
  if (approvalsConfig(loaded).forbidSelfApproval && request.requesterSignature === undefined) {
    throw unsignedRequest(id);
  }
  const use = await requestUsed(loaded, id);
  if (use) {
    const at = use.time;
    const by = use.rotationId;
    throw invalid(
      `it was already used${by ? ` by rotation ${by}` : ''}${at ? ` on ${at}` : ''}; a request is single-use`,
    );
  }
  const maxAge = ms(approvalsConfig(loaded).expiry);
  if (isExpired(request, now, maxAge)) {
    throw invalid(`it expired on ${new Date(expiresAt(request, maxAge) || 0).toISOString()}`);
  }
  const want = [...rotation.keys].sort();
  const have = [...request.keys].sort();
  if (request.trigger !== rotation.trigger || want.join(',') !== have.join(',')) {
    throw invalid(
      `it approves ${have.join(', ')} (trigger ${request.trigger}), but this rotation is ${want.join(', ')} (trigger ${rotation.trigger})`,
      'Rotate exactly what was approved (same --only and --trigger), or create a new request.',
    );
  }
  if (rotation.returnTo !== undefined) {
    if (request.returnTo === undefined) {
      throw invalid(
        'it does not name the values the rollback returns to (made by an older rekey)',
        'Create a new request: `rekey request --trigger rollback --backup FILE --ticket ID`.',
      );
    }
    if (request.returnTo.fingerprint !== rotation.returnTo.fingerprint) {
      throw invalid(
        `it approves a return to ${request.returnTo.what}, but this rollback returns to other values (${rotation.returnTo.what})`,
        'Roll back to what was approved (the same --backup), or create a new request for these values.',
      );
    }
  }
  if (rotation.ticket !== undefined && rotation.ticket !== request.ticket) {
    throw invalid(`it is for ticket ${request.ticket ?? '(none)'}, not ${rotation.ticket}`);
  }
  const state = await approvalState(loaded, request);
  if (state.altered) throw invalid('it was altered after it was created');
  if (state.requester.signed && state.requester.verified === undefined) {
    throw invalid(
      state.requester.why ?? "the requester's signature does not verify",
      'Check the request file (edited by hand?), or create a new request with `rekey request --key`.',
    );
  }
  if (state.invalid.length > 0) {
    throw invalid(
      `the signature of ${state.invalid.join('; ')} does not verify (tampered, or made for another request)`,
    );
  }
  if (state.missing.length > 0) {
    const [first, ...rest] = state.missing;
    throw new RekeyError(
      'ERR_APPROVAL_MISSING',
      `change request ${id} lacks the approval of ${state.missing.map((m) => m.role).join(' and ')} (${first!.role}: ${first!.why}); nothing was changed`,
      {
        details: rest.map((m) => `${m.role}: ${m.why}`),
        hint: `Have an approver run \`rekey approve ${id} --role ${first!.role}\`, then rotate again.`,
      },
    );
  }
  const claimed = await claimRequest(loaded, id, {
    time: now.toISOString(),
    operator: rotation.operator,
    host: os.hostname(),
  });
  if (!claimed) throw invalid('another rotation claimed it just now; a request is single-use');
  const requestedBy = state.requester.signed ? state.requester.verified : undefined;
  return { request, approvals: state.approvals, ...(requestedBy ? { requestedBy } : {}) };
}
