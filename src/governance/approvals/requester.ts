/**
 * The requester of a change request, proven by a signature: `rekey request --key` signs a message
 * naming the request's digest (the one approvers sign, bound to the stack) and the requester's
 * principal; the principal comes from the signing key in allowed_signers (`ssh-keygen -Y
 * find-principals`), never from the request file. `approvals.forbidSelfApproval` compares approvers
 * with this signature: any principal of the requester's key, or the key itself, cannot approve.
 */
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { RekeyError } from '../../lib/errors.js';
import { auditFileOf, readAuditLog, verifyAuditLog } from '../audit/read.js';
import type { ChangeRequest } from './request.js';
import { signatureFingerprint, sshFindPrincipals, sshVerify } from './ssh.js';

/**
 * The message a requester signs: the request's digest and the requester's principal.
 *
 * @example
 * requestMessage(request.digest, 'carol@example.com');
 * // 'rekey-request-v1\nrequest …\nprincipal carol@example.com\n'
 */
export function requestMessage(digest: string, principal: string): string {
  return `rekey-request-v1\nrequest ${digest}\nprincipal ${principal}\n`;
}

/** The verified requester, as the audit log records it. */
export interface RequestedBy {
  readonly principal: string;
  readonly fingerprint: string;
}

/** What a request's requester signature proves. */
export type RequesterCheck =
  | { readonly signed: false }
  | {
      readonly signed: true;
      /** The requester's principal, when the signature verifies for the request's `requester`. */
      readonly verified?: RequestedBy;
      /** Every principal allowed_signers gives the signing key (self-approval compares with these). */
      readonly principals: readonly string[];
      readonly fingerprint?: string;
      /** Why it does not verify, when it does not. */
      readonly why?: string;
    };

/**
 * Checks a request's requester signature against the digest recomputed from its fields.
 *
 * @example
 * const r = await checkRequester(allowedSignersFile(loaded), request, requestDigest(request));
 * r.signed && r.verified; // { principal: 'carol@example.com', fingerprint: 'SHA256:…' }
 */
export async function checkRequester(
  signers: string,
  request: ChangeRequest,
  digest: string,
): Promise<RequesterCheck> {
  const signature = request.requesterSignature;
  if (signature === undefined) return { signed: false };
  const principals = await sshFindPrincipals(signers, signature);
  const fingerprint = signatureFingerprint(signature);
  if (principals.length === 0 || fingerprint === undefined) {
    return { signed: true, principals, why: `the requester's key is not in ${path.basename(signers)}` };
  }
  const base = { signed: true as const, principals, fingerprint };
  if (!principals.includes(request.requester)) {
    return {
      ...base,
      why: `the request names ${request.requester} as requester, but it was signed by ${principals.join(', ')}`,
    };
  }
  if (!(await sshVerify(signers, request.requester, signature, requestMessage(digest, request.requester)))) {
    return {
      ...base,
      why: `the requester's signature (${request.requester}) does not verify for this request`,
    };
  }
  return { ...base, verified: { principal: request.requester, fingerprint } };
}

/**
 * True when an approval (its principal and key fingerprint) comes from the requester: the requester's
 * name, any principal of the key that signed the request, or that key itself.
 */
export function isRequester(
  check: RequesterCheck,
  requester: string,
  approver: { readonly principal: string; readonly fingerprint?: string },
): boolean {
  const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
  if (same(approver.principal, requester)) return true;
  if (!check.signed) return false;
  if (check.principals.some((p) => same(p, approver.principal))) return true;
  return approver.fingerprint !== undefined && approver.fingerprint === check.fingerprint;
}

/**
 * The refusal of an unsigned request while `approvals.forbidSelfApproval` is on (exit 5): the
 * requester must be proven by a signature for the rule to mean anything.
 */
export function unsignedRequest(id: string): RekeyError {
  return new RekeyError(
    'ERR_APPROVAL_INVALID',
    `change request ${id} is not signed by its requester, and approvals.forbidSelfApproval needs the requester proven by a signature; nothing was changed`,
    {
      hint: 'Create the request with `rekey request --key PATH` (your SSH key, listed in allowed_signers), have it approved, then rotate with it.',
    },
  );
}

/**
 * The requester of a break-glass request, as the audit log's break-glass record names it: that
 * request is written by rekey after the rotation, unsigned, so its `requester` field is not trusted;
 * the record (MACed and chained: an edit fails `rekey audit verify`) says who broke glass, with the
 * key's principal and fingerprint when they signed with `--key`. The log is verified first (chain,
 * head, anchor, and the MACs when the audit key is readable): a record of a log that does not verify
 * names nobody. Undefined when no record of a verified log names the request (it is then refused).
 *
 * @example
 * const bg = await breakGlassRequester(loaded, request);
 * bg?.name; // 'alice@example.com'
 */
export async function breakGlassRequester(
  loaded: LoadedConfig,
  request: ChangeRequest,
): Promise<{ readonly name: string; readonly check: RequesterCheck } | undefined> {
  // Whoever broke glass could rename themselves in the record to approve their own review.
  if (!(await verifyAuditLog(loaded)).ok) return undefined;
  const record = (await readAuditLog(auditFileOf(loaded))).find(
    (r) => r.kind === 'break-glass' && r.requestId === request.id,
  );
  const by = record?.breakGlassBy;
  if (record === undefined) return undefined;
  if (by?.identity === 'ssh') {
    const verified = { principal: by.principal, fingerprint: by.fingerprint };
    return {
      name: by.principal,
      check: { signed: true, verified, principals: [by.principal], fingerprint: by.fingerprint },
    };
  }
  return { name: by?.identity === 'os-user' ? by.user : record.operator, check: { signed: false } };
}

/** The refusal of a break-glass request that no break-glass record of the audit log names (exit 5). */
export function unrecordedBreakGlass(id: string): RekeyError {
  return new RekeyError(
    'ERR_APPROVAL_INVALID',
    `break-glass request ${id} is named by no break-glass record of a verified audit log: who broke glass cannot be told; nothing was changed`,
    { hint: 'Run `rekey audit verify`: the log or the request file was altered.' },
  );
}
