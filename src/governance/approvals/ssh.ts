/**
 * OpenSSH signatures (`ssh-keygen -Y`, OpenSSH 8.2+), the scheme git uses for signed commits: the
 * message goes on stdin, keys and signatures are files named on the command line (no secret is ever
 * an argument), the namespace `rekey` keeps a rekey signature from passing for anything else.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../../lib/errors.js';
import { makeOwnedDir, removeOwnedDir } from '../../lib/owned-dir.js';

/** The signature namespace of rekey approvals (`ssh-keygen -n`). */
export const NAMESPACE = 'rekey';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function sshKeygen(args: readonly string[], stdin: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh-keygen', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new RekeyError('ERR_SIGNING_FAILED', `cannot run ssh-keygen: ${e.code ?? e.message}`, {
          hint: 'Install OpenSSH 8.2 or newer (ssh-keygen -Y); rekey signs and verifies approvals with it.',
        }),
      ),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // ssh-keygen may exit before reading everything
    child.stdin.end(stdin);
  });
}

/** Runs `fn` with a signature written to a temp file (ssh-keygen reads signatures from files). */
async function withSignatureFile<T>(signature: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await makeOwnedDir('rekey-sig-');
  try {
    const file = path.join(dir, 'signature');
    await fs.writeFile(file, signature.endsWith('\n') ? signature : `${signature}\n`, { mode: 0o600 });
    return await fn(file);
  } finally {
    await removeOwnedDir(dir);
  }
}

/**
 * Signs `message` with a private key file (or a public key whose private half is in ssh-agent);
 * returns the armored signature. A passphrase is asked on the terminal by ssh-keygen itself.
 *
 * @example
 * const sig = await sshSign('~/.ssh/id_ed25519', digest); // '-----BEGIN SSH SIGNATURE-----…'
 */
export async function sshSign(keyFile: string, message: string): Promise<string> {
  const r = await sshKeygen(['-Y', 'sign', '-f', keyFile, '-n', NAMESPACE], message);
  if (r.code !== 0 || !r.stdout.includes('BEGIN SSH SIGNATURE')) {
    throw new RekeyError(
      'ERR_SIGNING_FAILED',
      `ssh-keygen could not sign with ${keyFile}: ${lastLine(r.stderr)}`,
    );
  }
  return r.stdout.trim();
}

/**
 * The principals of an allowed_signers file whose key made `signature` (none when it is unknown).
 *
 * @example
 * await sshFindPrincipals('allowed_signers', sig); // ['alice@example.com']
 */
export async function sshFindPrincipals(allowedSigners: string, signature: string): Promise<string[]> {
  return withSignatureFile(signature, async (file) => {
    const r = await sshKeygen(['-Y', 'find-principals', '-s', file, '-f', allowedSigners], '');
    if (r.code !== 0) return [];
    return r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  });
}

/**
 * True when `signature` is a valid `rekey` signature of `message` by `principal`'s key in the
 * allowed_signers file (OpenSSH checks the key, the namespace and any validity window there).
 *
 * @example
 * await sshVerify('allowed_signers', 'alice@example.com', sig, digest); // true
 */
export async function sshVerify(
  allowedSigners: string,
  principal: string,
  signature: string,
  message: string,
): Promise<boolean> {
  if (!/^[^\s,]+$/.test(principal) || principal.startsWith('-')) return false;
  return withSignatureFile(signature, async (file) => {
    const r = await sshKeygen(
      ['-Y', 'verify', '-f', allowedSigners, '-I', principal, '-n', NAMESPACE, '-s', file],
      message,
    );
    return r.code === 0;
  });
}

function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('Signing data on standard input'));
  return lines.at(-1) ?? 'no reason given';
}

/**
 * The SHA-256 fingerprint (as `ssh-keygen -l` prints it) of the public key embedded in an armored
 * SSH signature (the SSHSIG blob: magic, version, then the signer's public key), or undefined when
 * the signature is not one.
 *
 * @example
 * signatureFingerprint(sig); // 'SHA256:C9kZUfEXKtCadvHeG0BY8UapHLiPCqC6PHRMdrDxIi8'
 */
export function signatureFingerprint(signature: string): string | undefined {
  const body = signature
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  const blob = Buffer.from(body, 'base64');
  if (blob.length < 14 || blob.subarray(0, 6).toString('latin1') !== 'SSHSIG') return undefined;
  const len = blob.readUInt32BE(10);
  if (len === 0 || 14 + len > blob.length) return undefined;
  const key = blob.subarray(14, 14 + len);
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The message an approver signs: the request's digest, the role approved and the approver's
 * principal, so a signature made for one role never counts for another and the name written beside it
 * is the one that was signed (it must also be a principal of the signing key in allowed_signers, found
 * again at every check).
 *
 * @example
 * approvalMessage(request.digest, 'security-lead', 'alice@example.com');
 * // 'rekey-approval-v3\nrequest …\nrole security-lead\nprincipal alice@example.com\n'
 */
export function approvalMessage(digest: string, role: string, principal: string): string {
  return `rekey-approval-v3\nrequest ${digest}\nrole ${role}\nprincipal ${principal}\n`;
}

/**
 * The message rekey signed before the principal was in it (`rekey-approval-v2`): such approvals are
 * refused, with a message saying to approve again.
 */
export function legacyApprovalMessage(digest: string, role: string): string {
  return `rekey-approval-v2\nrequest ${digest}\nrole ${role}\n`;
}

/**
 * What `rekey approve` without `--principal` signs first, to learn the key's principals
 * (`find-principals` needs a signature): never an approval, it names no request.
 */
export function probeMessage(nonce: string): string {
  return `rekey-principal-probe-v1\nnonce ${nonce}\n`;
}
