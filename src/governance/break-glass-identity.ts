/**
 * Who broke glass. With `--key`, the operator signs a break-glass statement (bound to this stack and
 * this rotation) with their SSH key before anything changes, and the principal comes from the
 * signature (`ssh-keygen -Y find-principals` in `approvals.allowedSigners`, then `-Y verify -I`), as
 * for approvals. Without `--key`, the OS account running rekey is recorded, as such: it proves no
 * principal, so it never satisfies `approvals.breakGlass.allowed`. `--operator` is a free-text note,
 * never an identity.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { RekeyError } from '../lib/errors.js';
import { signingKey } from './approvals/approve.js';
import { signatureFingerprint, sshFindPrincipals, sshSign, sshVerify } from './approvals/ssh.js';
import { type StackBinding, stackBinding } from './approvals/stack-id.js';
import { allowedSignersFile } from './approvals/state.js';

/** The identity recorded for a break-glass rotation (`breakGlassBy` in the audit log). */
export type BreakGlassIdentity =
  | { readonly identity: 'ssh'; readonly principal: string; readonly fingerprint: string }
  | { readonly identity: 'os-user'; readonly user: string };

/** What the operator signs: the stack (id, env file, host), this rotation's break-glass id, the command and the reason. */
export interface BreakGlassStatement extends StackBinding {
  /** A random id made for this rotation (the break-glass request's id when approvals are configured). */
  readonly id: string;
  readonly command: 'rotate' | 'rollback';
  readonly reason: string;
}

/**
 * The signed message of a break-glass statement.
 *
 * @example
 * breakGlassMessage(s); // 'rekey-break-glass-v1\nstack-id …\nenv-file …\nhost …\nid …\ncommand rotate\nreason "key in a gist"\n'
 */
export function breakGlassMessage(s: BreakGlassStatement): string {
  return [
    'rekey-break-glass-v1',
    `stack-id ${s.stackId}`,
    `env-file ${JSON.stringify(s.envFile)}`,
    `host ${JSON.stringify(s.host)}`,
    `id ${s.id}`,
    `command ${s.command}`,
    `reason ${JSON.stringify(s.reason)}`,
    '',
  ].join('\n');
}

/** A new break-glass id (for a stack without `approvals:`, where no request id names the rotation). */
export function newBreakGlassId(): string {
  return `bg-${randomBytes(8).toString('hex')}`;
}

/**
 * Signs the break-glass statement of this rotation with `--key` (before anything is asked or
 * changed). Needs `approvals.allowedSigners` to name the signer.
 *
 * @example
 * const signature = await signBreakGlass(loaded, '~/.ssh/id_ed25519', { id, command: 'rotate', reason });
 */
export async function signBreakGlass(
  loaded: LoadedConfig,
  key: string,
  s: Omit<BreakGlassStatement, keyof StackBinding>,
): Promise<string> {
  if (loaded.config.approvals === undefined) {
    throw new RekeyError(
      'ERR_APPROVALS_OFF',
      '--key signs a break-glass statement, but rekey.yaml has no approvals section to name the signer',
      { hint: 'Drop --key (the OS user is recorded), or configure approvals.allowedSigners.' },
    );
  }
  allowedSignersFile(loaded);
  const keyFile = await signingKey(loaded.dir, key);
  return sshSign(keyFile, breakGlassMessage({ ...(await stackBinding(loaded)), ...s }));
}

/**
 * The identity of the operator breaking glass: the principal of a verified signature, or the OS user.
 * Throws ERR_APPROVAL_MISSING (exit 5) when the signature does not verify for this stack and rotation,
 * or when `approvals.breakGlass.allowed` does not list the principal (an OS user is never listed: it
 * proves no principal).
 */
export async function breakGlassIdentity(
  loaded: LoadedConfig,
  s: Omit<BreakGlassStatement, keyof StackBinding>,
  signature: string | undefined,
): Promise<BreakGlassIdentity> {
  const allowed = loaded.config.approvals?.breakGlass
    ? loaded.config.approvals.breakGlass.allowed
    : undefined;
  if (signature === undefined) {
    const user = osUser();
    if (allowed !== undefined) {
      throw new RekeyError(
        'ERR_APPROVAL_MISSING',
        `break-glass is allowed only to ${allowed.join(', ')} (approvals.breakGlass.allowed), proven by an SSH signature; the OS user ${user} proves no principal; nothing was changed`,
        {
          hint: 'Pass --key PATH (your SSH key, listed in allowed_signers under an allowed principal), or get the approvals with `rekey request`.',
        },
      );
    }
    return { identity: 'os-user', user };
  }
  const signers = allowedSignersFile(loaded);
  const message = breakGlassMessage({ ...(await stackBinding(loaded)), ...s });
  const fingerprint = signatureFingerprint(signature);
  const found = await sshFindPrincipals(signers, signature);
  const candidates = allowed === undefined ? found : found.filter((p) => allowed.includes(p));
  const refuse = (why: string) =>
    new RekeyError('ERR_APPROVAL_MISSING', `break-glass refused: ${why}; nothing was changed`, {
      hint:
        allowed === undefined
          ? `Sign with a key listed in ${path.basename(signers)}, or drop --key (the OS user is recorded).`
          : `Sign with the key of one of ${allowed.join(', ')} (approvals.breakGlass.allowed).`,
    });
  if (found.length === 0 || fingerprint === undefined) {
    throw refuse(`the --key is not in ${path.basename(signers)}`);
  }
  if (candidates.length === 0) {
    throw refuse(
      `the key belongs to ${found.join(', ')}, not allowed to break glass (approvals.breakGlass.allowed: ${allowed?.join(', ')})`,
    );
  }
  for (const principal of candidates) {
    if (await sshVerify(signers, principal, signature, message)) {
      return { identity: 'ssh', principal, fingerprint };
    }
  }
  throw refuse(`the signature of ${candidates.join(', ')} does not verify for this stack and rotation`);
}

/** The OS account running rekey. */
export function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** The name a break-glass identity is recorded under (as requester of the after-the-fact request). */
export function identityName(id: BreakGlassIdentity): string {
  return id.identity === 'ssh' ? id.principal : id.user;
}
