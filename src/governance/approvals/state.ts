/**
 * What a request's approvals are worth under the config: every signature checked with
 * `ssh-keygen -Y verify` against the digest recomputed from the request's fields (so an edited
 * request invalidates every signature), each principal checked against `approvals.roles`, and the
 * required roles assigned to distinct principals (two people, not one person twice).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import type { ParsedConfig } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { type ChangeRequest, requestDigest } from './request.js';
import { breakGlassRequester, checkRequester, isRequester, type RequesterCheck } from './requester.js';
import {
  approvalMessage,
  legacyApprovalMessage,
  signatureFingerprint,
  sshFindPrincipals,
  sshVerify,
} from './ssh.js';

export type ApprovalsConfig = NonNullable<ParsedConfig['approvals']>;

export interface RoleApproval {
  readonly role: string;
  readonly principal: string;
  /** The SHA-256 fingerprint of the key that made the verified signature. */
  readonly fingerprint?: string;
}

export interface ApprovalState {
  /** The fields no longer hash to the recorded digest: the request was edited. */
  readonly altered: boolean;
  /** Required roles satisfied, each by a different principal. */
  readonly approvals: readonly RoleApproval[];
  /** Required roles not satisfied, with the reason. */
  readonly missing: ReadonlyArray<{ readonly role: string; readonly why: string }>;
  /** Approvals whose signature does not verify. */
  readonly invalid: readonly string[];
  /** What the requester's signature proves (`rekey request --key`), or `{ signed: false }`. */
  readonly requester: RequesterCheck;
  readonly satisfied: boolean;
}

/**
 * The approvals section, or ERR_APPROVALS_OFF when rekey.yaml has none.
 *
 * @example
 * const approvals = approvalsConfig(loaded); // { require: ['security-lead', 'devops-lead'], ... }
 */
export function approvalsConfig(loaded: LoadedConfig): ApprovalsConfig {
  const a = loaded.config.approvals;
  if (a === undefined) throw new RekeyError('ERR_APPROVALS_OFF', 'rekey.yaml has no approvals section');
  return a;
}

/** The allowed_signers file, absolute; ERR_CONFIG_INVALID when it does not exist. */
export function allowedSignersFile(loaded: LoadedConfig): string {
  const file = path.resolve(loaded.dir, approvalsConfig(loaded).allowedSigners);
  if (!existsSync(file)) {
    throw new RekeyError('ERR_CONFIG_INVALID', `approvals.allowedSigners: ${file} does not exist`, {
      hint: 'Create it in OpenSSH allowed_signers format: one line per approver, `alice@example.com ssh-ed25519 AAAA…`.',
    });
  }
  return file;
}

/**
 * Evaluates a request's approvals against the config.
 *
 * @example
 * const state = await approvalState(loaded, request);
 * state.missing; // [{ role: 'devops-lead', why: 'no approval' }]
 */
export async function approvalState(loaded: LoadedConfig, request: ChangeRequest): Promise<ApprovalState> {
  const config = approvalsConfig(loaded);
  const signers = allowedSignersFile(loaded);
  const digest = requestDigest(request);
  const altered = digest !== request.digest;
  // A break-glass request is written by rekey, unsigned: its requester comes from the audit log.
  const bg = request.breakGlass === undefined ? undefined : await breakGlassRequester(loaded, request);
  // No break-glass record of a verified log names it: who broke glass is unknown, so nothing may
  // count as approved (the request file's own `requester` is written by rekey, unsigned, editable).
  const requester: RequesterCheck =
    request.breakGlass !== undefined && bg === undefined
      ? { signed: true, principals: [], why: 'no break-glass record of a verified audit log names it' }
      : (bg?.check ?? (await checkRequester(signers, request, digest)));
  const requesterName = bg?.name ?? request.requester;
  const invalid: string[] = [];
  const unlisted = new Map<string, string[]>();
  const badByRole = new Map<string, string[]>();
  const candidates: Candidate[] = [];
  const self = new Map<string, string>();
  for (const a of request.approvals) {
    // Who signed comes from the signature's key in allowed_signers, never from the request file.
    const found = await sshFindPrincipals(signers, a.signature);
    const fingerprint = signatureFingerprint(a.signature);
    const listed = found.filter((p) => (config.roles[a.role] ?? []).includes(p));
    if (found.length === 0 || fingerprint === undefined) {
      invalid.push(`${a.role} by ${a.principal}`);
      badByRole.set(a.role, [...(badByRole.get(a.role) ?? []), a.principal]);
    } else if (listed.length === 0) {
      unlisted.set(a.role, [...(unlisted.get(a.role) ?? []), ...found]);
    } else if (!listed.includes(a.principal)) {
      invalid.push(`${a.role} by ${a.principal}`);
      badByRole.set(a.role, [...(badByRole.get(a.role) ?? []), a.principal]);
    } else if (
      !(await sshVerify(signers, a.principal, a.signature, approvalMessage(digest, a.role, a.principal)))
    ) {
      // Signed by an older rekey (digest and role, without the principal): say so.
      const legacy = await sshVerify(
        signers,
        a.principal,
        a.signature,
        legacyApprovalMessage(digest, a.role),
      );
      invalid.push(
        legacy
          ? `${a.role} by ${a.principal} (signed by an older rekey, without the principal in the message: approve again)`
          : `${a.role} by ${a.principal}`,
      );
      badByRole.set(a.role, [...(badByRole.get(a.role) ?? []), a.principal]);
    } else if (
      config.forbidSelfApproval &&
      isRequester(requester, requesterName, { principal: a.principal, fingerprint })
    ) {
      self.set(a.role, a.principal);
    } else {
      candidates.push({ role: a.role, principal: a.principal, fingerprint });
    }
  }
  const assigned = assign(config.require, candidates);
  const approvals = config.require.flatMap((role) => {
    const c = assigned.get(role);
    return c === undefined ? [] : [{ role, principal: c.principal, fingerprint: c.fingerprint }];
  });
  const missing = config.require
    .filter((role) => !assigned.has(role))
    .map((role) => {
      const who = self.get(role);
      const why =
        !candidates.some((c) => c.role === role) && who !== undefined
          ? `${who} requested it and cannot approve it (approvals.forbidSelfApproval)`
          : whyMissing(role, candidates, assigned, unlisted, badByRole);
      return { role, why };
    });
  return {
    altered,
    approvals,
    missing,
    invalid,
    requester,
    satisfied:
      !altered &&
      invalid.length === 0 &&
      missing.length === 0 &&
      !(requester.signed && requester.verified === undefined),
  };
}

/**
 * True when an approver's principal names the requester (case-insensitive, trimmed).
 *
 * @example
 * sameName('Alice@Example.com', 'alice@example.com'); // true
 */
export function sameName(principal: string, requester: string): boolean {
  return principal.trim().toLowerCase() === requester.trim().toLowerCase();
}

/** A verified approval: its role, the principal found for its key, and the key's fingerprint. */
interface Candidate extends RoleApproval {
  readonly fingerprint: string;
}

/**
 * Assigns required roles to approvals of distinct principals AND distinct keys (a tiny bipartite
 * matching, by backtracking): one key listed under two names, or two names matched by one wildcard
 * line, is still one person.
 */
function assign(roles: readonly string[], candidates: readonly Candidate[]): Map<string, Candidate> {
  let best = new Map<string, Candidate>();
  const walk = (i: number, current: Map<string, Candidate>, used: Set<string>) => {
    if (current.size > best.size) best = new Map(current);
    if (i === roles.length || best.size === roles.length) return;
    const role = roles[i]!;
    for (const c of candidates) {
      if (c.role !== role || used.has(`p:${c.principal}`) || used.has(`k:${c.fingerprint}`)) continue;
      current.set(role, c);
      used.add(`p:${c.principal}`);
      used.add(`k:${c.fingerprint}`);
      walk(i + 1, current, used);
      current.delete(role);
      used.delete(`p:${c.principal}`);
      used.delete(`k:${c.fingerprint}`);
    }
    walk(i + 1, current, used);
  };
  walk(0, new Map(), new Set());
  return best;
}

function whyMissing(
  role: string,
  candidates: readonly Candidate[],
  assigned: ReadonlyMap<string, Candidate>,
  unlisted: ReadonlyMap<string, string[]>,
  bad: ReadonlyMap<string, string[]>,
): string {
  const dup = candidates.find((c) => c.role === role);
  if (dup) {
    const other = [...assigned.entries()].find(
      ([, c]) => c.principal === dup.principal || c.fingerprint === dup.fingerprint,
    );
    const by = other
      ? ` as ${other[0]}${other[1].principal !== dup.principal ? ` (as ${other[1].principal}, with the same key)` : ''}`
      : '';
    return `${dup.principal} already approved${by}; a second person with another key must approve ${role}`;
  }
  const u = unlisted.get(role);
  if (u) return `signed by ${u.join(', ')}, not listed for ${role} in approvals.roles`;
  const b = bad.get(role);
  if (b) return `the signature of ${b.join(', ')} does not verify`;
  return 'no approval';
}
