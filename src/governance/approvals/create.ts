/**
 * `rekey request`: a new change request, recorded in the audit log; with `--key`, signed by the
 * requester (the requester is then the principal allowed_signers gives the key).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type LoadedConfig, ms } from '../../config/load.js';
import type { RequestTrigger } from '../../config/triggers.js';
import { RekeyError } from '../../lib/errors.js';
import { redactor } from '../../lib/redact.js';
import { appendAudit } from '../audit/append.js';
import { auditPaths } from '../audit/read.js';
import { fingerprintSecrets } from '../audit/secrets.js';
import type { BreakGlassIdentity } from '../break-glass-identity.js';
import { signingKey } from './approve.js';
import { buildRequest, type ChangeRequest, newRequestId, saveNewRequest } from './request.js';
import { type RequestedBy, requestMessage } from './requester.js';
import type { ReturnTo } from './return-to.js';
import { probeMessage, signatureFingerprint, sshFindPrincipals, sshSign, sshVerify } from './ssh.js';
import { stackBinding } from './stack-id.js';
import { allowedSignersFile, approvalsConfig } from './state.js';

export interface NewRequest {
  /** The keys the rotation will rotate (as the plan computes them). */
  readonly keys: readonly string[];
  readonly trigger: RequestTrigger;
  /**
   * Who asks: `--operator`, git's user.email or the OS user. With `key`, only a preference among the
   * key's principals: the requester recorded is the principal found for the key.
   */
  readonly requester: string;
  /** `--key`: the requester's SSH key, which signs the request (digest and principal). */
  readonly key?: string;
  readonly ticket?: string;
  readonly reason?: string;
  /** A break-glass rotation's reason: the request records it, to be approved after the fact. */
  readonly breakGlass?: string;
  /** Who broke glass (a verified SSH principal, or the OS user), recorded in the audit log. */
  readonly breakGlassBy?: BreakGlassIdentity;
  readonly id?: string;
  readonly now?: Date;
  /** A rollback request: the values it returns to (return-to.ts). */
  readonly returnTo?: ReturnTo;
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
  if (input.key === undefined && config.forbidSelfApproval && input.breakGlass === undefined) {
    throw new RekeyError(
      'ERR_USAGE',
      'rekey request needs --key: approvals.forbidSelfApproval needs the requester proven by a signature; nothing was written',
      {
        hint: 'Pass --key PATH (your SSH key, listed in allowed_signers), or set approvals.forbidSelfApproval: false.',
      },
    );
  }
  // Sign before anything is written: ssh-keygen may wait for a passphrase or a hardware-key touch.
  const signer =
    input.key !== undefined ? await requesterPrincipal(loaded, input.key, input.requester) : undefined;
  const built = buildRequest({
    id: input.id ?? newRequestId(now),
    stack: loaded.stack,
    keys: [...input.keys],
    trigger: input.trigger,
    ...(input.ticket ? { ticket: redactor.redact(input.ticket) } : {}),
    ...(input.reason ? { reason: redactor.redact(input.reason) } : {}),
    requester: signer?.principal ?? input.requester,
    created: now.toISOString(),
    expires: new Date(now.getTime() + ms(config.expiry)).toISOString(),
    ...(input.breakGlass ? { breakGlass: redactor.redact(input.breakGlass) } : {}),
    ...(await stackBinding(loaded)),
    ...(input.returnTo
      ? { returnTo: { ...input.returnTo, what: redactor.redact(input.returnTo.what) } }
      : {}),
  });
  let request = built;
  let requestedBy: RequestedBy | undefined;
  if (signer !== undefined) {
    const signature = await signRequest(loaded, signer.keyFile, built.digest, signer.principal);
    request = { ...built, requesterSignature: signature };
    requestedBy = { principal: signer.principal, fingerprint: signatureFingerprint(signature) ?? '' };
  }
  const file = await saveNewRequest(loaded, request);
  await appendAudit(auditPaths(loaded), {
    time: request.created,
    kind: input.breakGlass ? 'break-glass' : 'request',
    trigger: request.trigger,
    ...(request.ticket ? { ticket: request.ticket } : {}),
    operator: request.requester,
    ...(requestedBy ? { requestedBy } : {}),
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

/**
 * The requester's principal for `rekey request --key`: found from the key (a throwaway probe
 * signature, as `rekey approve` does), preferring `preferred` (`--operator`, git's user.email) when
 * the key has it. Throws ERR_SIGNER_UNKNOWN when the key is not in allowed_signers.
 */
async function requesterPrincipal(
  loaded: LoadedConfig,
  key: string,
  preferred: string,
): Promise<{ keyFile: string; principal: string }> {
  const signers = allowedSignersFile(loaded);
  const keyFile = await signingKey(loaded.dir, key);
  const probe = await sshSign(keyFile, probeMessage(randomBytes(16).toString('hex')));
  const found = await sshFindPrincipals(signers, probe);
  if (found.length === 0) {
    throw new RekeyError('ERR_SIGNER_UNKNOWN', `the key ${keyFile} is not in ${path.basename(signers)}`, {
      hint: 'Sign the request with your own key, listed in allowed_signers.',
    });
  }
  return { keyFile, principal: found.find((p) => p === preferred) ?? found[0]! };
}

/**
 * Signs a request's digest as `principal` and checks the new signature (ERR_SIGNING_FAILED when it
 * does not verify: the allowed_signers line's namespaces or validity window).
 */
async function signRequest(
  loaded: LoadedConfig,
  keyFile: string,
  digest: string,
  principal: string,
): Promise<string> {
  const signers = allowedSignersFile(loaded);
  const signature = await sshSign(keyFile, requestMessage(digest, principal));
  if (!(await sshVerify(signers, principal, signature, requestMessage(digest, principal)))) {
    throw new RekeyError('ERR_SIGNING_FAILED', `the request signature of ${principal} does not verify`, {
      hint: `Check the allowed_signers line of ${principal} (namespaces must include "rekey", and any valid-before/after window).`,
    });
  }
  return signature;
}
