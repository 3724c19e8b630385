/**
 * `rekey approve REQUEST --role ROLE`: sign the request's digest with the approver's SSH key, find
 * the approver's principal in allowed_signers from the signature itself (nobody types their own
 * name), and add the approval to the request.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type LoadedConfig, ms } from '../../config/load.js';
import { RekeyError } from '../../lib/errors.js';
import { sha256 } from '../../lib/hash.js';
import { withLock } from '../../lib/lock-wait.js';
import { appendAudit } from '../audit/append.js';
import { auditPaths } from '../audit/read.js';
import {
  type Approval,
  type ChangeRequest,
  isExpired,
  loadRequest,
  requestDigest,
  saveRequest,
} from './request.js';
import {
  breakGlassRequester,
  checkRequester,
  isRequester,
  unrecordedBreakGlass,
  unsignedRequest,
} from './requester.js';
import {
  approvalMessage,
  probeMessage,
  signatureFingerprint,
  sshFindPrincipals,
  sshSign,
  sshVerify,
} from './ssh.js';
import { type ApprovalState, allowedSignersFile, approvalState, approvalsConfig } from './state.js';
import { requestUsed } from './used.js';

export interface ApproveInput {
  readonly role: string;
  /** The approver's private key (or .pub with the key in ssh-agent); default: git's user.signingkey, else ~/.ssh/id_*. */
  readonly key?: string;
  /**
   * The principal the approver signs as (it is inside the signed message); default: found from the
   * key in allowed_signers with a first, throwaway signature (so ssh-keygen may ask twice).
   */
  readonly principal?: string;
  readonly operator: string;
  readonly now?: Date;
}

/**
 * Signs and records one approval; returns the request and what it still needs.
 *
 * @example
 * const { state } = await approveRequest(loaded, 'req-20261125-3fa2c1', { role: 'security-lead',
 *   key: '~/.ssh/id_ed25519', operator: 'alice@example.com' });
 * state.missing; // [{ role: 'devops-lead', why: 'no approval' }]
 */
export async function approveRequest(
  loaded: LoadedConfig,
  ref: string,
  input: ApproveInput,
): Promise<{ request: ChangeRequest; approval: Approval; state: ApprovalState }> {
  const config = approvalsConfig(loaded);
  const signers = allowedSignersFile(loaded);
  if (!config.require.includes(input.role) && config.roles[input.role] === undefined) {
    throw new RekeyError('ERR_USAGE', `unknown role ${input.role}`, {
      hint: `Roles in rekey.yaml: ${[...new Set([...config.require, ...Object.keys(config.roles)])].join(', ')}.`,
    });
  }
  const keyFile = await signingKey(loaded.dir, input.key);
  const now = input.now ?? new Date();
  // Everything up to the signature happens without the lock: ssh-keygen may wait for a passphrase
  // or a hardware-key touch for as long as the approver takes.
  const { file, request } = await loadRequest(loaded, ref);
  const digest = requestDigest(request);
  if (digest !== request.digest) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `change request ${request.id} was altered after it was created; not signed`,
    );
  }
  if (request.stack !== loaded.stack) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `change request ${request.id} is for stack ${request.stack}, not ${loaded.stack}`,
    );
  }
  if (request.breakGlass === undefined) {
    const use = await requestUsed(loaded, request.id);
    if (use)
      throw new RekeyError(
        'ERR_APPROVAL_INVALID',
        `change request ${request.id} was already used on ${use.time}`,
      );
    if (isExpired(request, now, ms(config.expiry))) {
      throw new RekeyError(
        'ERR_APPROVAL_INVALID',
        `change request ${request.id} expired on ${request.expires}`,
      );
    }
  }
  const listedFor = config.roles[input.role] ?? [];
  const notListed = (names: readonly string[]) =>
    new RekeyError(
      'ERR_APPROVAL_INVALID',
      `the key ${keyFile} belongs to ${names.join(', ')}, not listed for ${input.role} in approvals.roles`,
      { hint: `Approvers for ${input.role}: ${listedFor.join(', ') || 'none'}.` },
    );
  let principal = input.principal?.trim();
  if (principal === undefined || principal === '') {
    // find-principals needs a signature: a throwaway one over a probe that names no request.
    const probe = await sshSign(keyFile, probeMessage(randomBytes(16).toString('hex')));
    const found = await sshFindPrincipals(signers, probe);
    if (found.length === 0) {
      throw new RekeyError('ERR_SIGNER_UNKNOWN', `the key ${keyFile} is not in ${path.basename(signers)}`);
    }
    principal = found.find((p) => listedFor.includes(p));
    if (principal === undefined) throw notListed(found);
  } else if (!listedFor.includes(principal)) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `${principal} is not listed for ${input.role} in approvals.roles`,
      {
        hint: `Approvers for ${input.role}: ${listedFor.join(', ') || 'none'}.`,
      },
    );
  }
  const message = approvalMessage(digest, input.role, principal);
  const signature = await sshSign(keyFile, message);
  const principals = await sshFindPrincipals(signers, signature);
  if (principals.length === 0) {
    throw new RekeyError('ERR_SIGNER_UNKNOWN', `the key ${keyFile} is not in ${path.basename(signers)}`);
  }
  if (!principals.includes(principal)) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `the key ${keyFile} belongs to ${principals.join(', ')}, not to ${principal}`,
      { hint: 'Sign with your own key, or drop --principal (it is found from the key).' },
    );
  }
  if (!(await sshVerify(signers, principal, signature, message))) {
    throw new RekeyError('ERR_SIGNING_FAILED', `the new signature of ${principal} does not verify`, {
      hint: `Check the allowed_signers line of ${principal} (namespaces must include "rekey", and any valid-before/after window).`,
    });
  }
  // The requester is who signed the request (its key and every principal of that key), not the name
  // written in the request file.
  // A break-glass request is written by rekey, unsigned: its requester comes from the audit log.
  const bg = request.breakGlass === undefined ? undefined : await breakGlassRequester(loaded, request);
  if (request.breakGlass !== undefined && bg === undefined) throw unrecordedBreakGlass(request.id);
  const requester = bg?.check ?? (await checkRequester(signers, request, digest));
  if (
    config.forbidSelfApproval &&
    isRequester(requester, bg?.name ?? request.requester, {
      principal,
      fingerprint: signatureFingerprint(signature),
    })
  ) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `${principal} requested ${request.id}${requester.signed ? ' (signed it with this key)' : ''} and cannot approve it (approvals.forbidSelfApproval)`,
      { hint: `Ask another approver of ${input.role}.` },
    );
  }
  if (requester.signed && requester.verified === undefined) {
    throw new RekeyError(
      'ERR_APPROVAL_INVALID',
      `change request ${request.id}: ${requester.why ?? "the requester's signature does not verify"}; not signed`,
      {
        hint: 'Check the request file (edited by hand?), or create a new request with `rekey request --key`.',
      },
    );
  }
  if (config.forbidSelfApproval && !requester.signed && request.breakGlass === undefined) {
    throw unsignedRequest(request.id);
  }
  return withLock(requestLockDir(loaded, file), 'approve', async () => {
    // Re-read under the lock: another approval may have been saved while this one was being signed.
    const { request: fresh } = await loadRequest(loaded, file);
    if (fresh.digest !== digest || requestDigest(fresh) !== digest) {
      throw new RekeyError(
        'ERR_APPROVAL_INVALID',
        `change request ${request.id} was altered while it was being signed; not recorded`,
        { hint: 'Check the request file, then approve again.' },
      );
    }
    const fingerprint = signatureFingerprint(signature);
    const sameKey = fresh.approvals.find((a) => signatureFingerprint(a.signature) === fingerprint);
    if (sameKey) {
      throw new RekeyError(
        'ERR_USAGE',
        `the key ${keyFile} already approved this request as ${sameKey.role}`,
        {
          hint: `Two different people with two different keys must approve: ask another approver of ${input.role}.`,
        },
      );
    }
    const before = await approvalState(loaded, fresh);
    const same = before.approvals.find((a) => a.role === input.role);
    if (same) {
      throw new RekeyError('ERR_USAGE', `${input.role} already approved by ${same.principal}`, {
        hint: `Still needed: ${before.missing.map((m) => m.role).join(', ') || 'nothing'}.`,
      });
    }
    const other = before.approvals.find((a) => a.principal === principal);
    if (other) {
      throw new RekeyError('ERR_USAGE', `${principal} already approved this request as ${other.role}`, {
        hint: `Two different people must approve: ask another approver of ${input.role}.`,
      });
    }
    const approval: Approval = { role: input.role, principal, signature, signedAt: now.toISOString() };
    const updated: ChangeRequest = { ...fresh, approvals: [...fresh.approvals, approval] };
    // Audit first: an approval in the request is always in the log too (a failed save is redone by
    // approving again; a failed append leaves the request unchanged).
    await appendAudit(auditPaths(loaded), {
      time: approval.signedAt,
      kind: 'approval',
      trigger: request.trigger,
      ...(request.ticket ? { ticket: request.ticket } : {}),
      operator: input.operator,
      requestId: request.id,
      approvals: [
        {
          role: approval.role,
          principal: approval.principal,
          ...(fingerprint ? { fingerprint } : {}),
        },
      ],
      ...(request.breakGlass ? { breakGlass: request.breakGlass } : {}),
      outcome: 'recorded',
    });
    await saveRequest(file, updated);
    return { request: updated, approval, state: await approvalState(loaded, updated) };
  });
}

/**
 * The lock of one request file (src/lib/lock.ts: holder pid + start time, taken over only from a
 * dead holder), in the stack's state directory whether the request is there or a copy elsewhere.
 */
function requestLockDir(loaded: LoadedConfig, file: string): string {
  return path.join(loaded.stateDir, 'locks', `request-${sha256(path.resolve(file)).slice(0, 16)}`);
}

const run = promisify(execFile);

/** --key, else git's user.signingkey (a file), else the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
export async function signingKey(dir: string, explicit?: string): Promise<string> {
  if (explicit) {
    const p = path.resolve(explicit.replace(/^~(?=$|\/)/, os.homedir()));
    if (!existsSync(p)) throw new RekeyError('ERR_SIGNING_FAILED', `no key file at ${p}`);
    return p;
  }
  try {
    const { stdout } = await run('git', ['config', 'user.signingkey'], { cwd: dir, timeout: 5000 });
    const k = stdout.trim().replace(/^~(?=$|\/)/, os.homedir());
    if (k && !k.startsWith('key::') && existsSync(k)) return path.resolve(dir, k);
  } catch {
    // not configured
  }
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = path.join(os.homedir(), '.ssh', name);
    if (existsSync(p)) return p;
  }
  throw new RekeyError('ERR_SIGNING_FAILED', 'no SSH key found to sign with', {
    hint: 'Pass --key PATH (your private key, or its .pub with the key in ssh-agent).',
  });
}
