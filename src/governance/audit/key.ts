/**
 * The per-install audit key: 32 random bytes in `<stateDir>/audit.key`, or in `audit.keyFile` (0600),
 * created on first use. Fingerprints are HMAC-SHA256 of a value under this key, so the audit log can
 * say "this is the value rotated on 25 Nov" without holding the value or a plain hash of it (which a
 * dictionary of likely passwords would reverse); each record's MAC is made under a key derived from
 * it (`mac.ts`), so only who can read this key can write a record `rekey audit verify` accepts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { RekeyError } from '../../lib/errors.js';
import { ensurePrivateDir, ioError, writeFileExclusive } from '../../lib/fsx.js';

const KEY_BYTES = 32;

/** The audit key file of a state directory. */
export function auditKeyFile(stateDir: string): string {
  return path.join(stateDir, 'audit.key');
}

/**
 * The key file of a stack: `audit.keyFile` (relative to rekey.yaml), else `<stateDir>/audit.key`.
 *
 * @example
 * auditKeyFileOf(loaded); // '/etc/rekey/audit.key'
 */
export function auditKeyFileOf(loaded: LoadedConfig): string {
  const f = loaded.config.audit.keyFile;
  return f === undefined ? auditKeyFile(loaded.stateRoot) : path.resolve(loaded.dir, f);
}

/**
 * Reads the key file `file`, creating it (O_EXCL, 0600, fsynced) when it does not exist yet. Its
 * folder must exist (the state directory is created; a configured `audit.keyFile`'s folder is not).
 */
export async function auditKeyAt(file: string): Promise<Buffer> {
  const existing = await readKey(file);
  if (existing !== undefined) return existing;
  // Two processes may race to create it: the loser reads the winner's key.
  await writeFileExclusive(file, randomBytes(KEY_BYTES), 0o600);
  const created = await readKey(file);
  if (created === undefined) throw new RekeyError('ERR_AUDIT_KEY', `${file} vanished after it was created`);
  return created;
}

/** A stack's audit key (`auditKeyFileOf`), created on first use. */
export function stackAuditKey(loaded: LoadedConfig): Promise<Buffer> {
  return loaded.config.audit.keyFile === undefined
    ? auditKey(loaded.stateRoot)
    : auditKeyAt(auditKeyFileOf(loaded));
}

/** Reads the key file `file` without creating it: undefined when there is none. */
export function readAuditKeyAt(file: string): Promise<Buffer | undefined> {
  return readKey(file);
}

/**
 * Reads the audit key, creating it (O_EXCL, 0600, fsynced) when it does not exist yet.
 *
 * @example
 * const key = await auditKey(loaded.stateDir);
 * fingerprint(key, value); // '3f1c…' (64 hex digits)
 */
export async function auditKey(stateDir: string): Promise<Buffer> {
  await ensurePrivateDir(stateDir);
  return auditKeyAt(auditKeyFile(stateDir));
}

/**
 * Reads the audit key without creating it: undefined when there is none yet.
 *
 * @example
 * const key = await readAuditKey(loaded.stateDir); // undefined on a fresh install
 */
export async function readAuditKey(stateDir: string): Promise<Buffer | undefined> {
  return readKey(auditKeyFile(stateDir));
}

async function readKey(file: string): Promise<Buffer | undefined> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read', file, e as NodeJS.ErrnoException);
  }
  if (bytes.length !== KEY_BYTES) {
    throw new RekeyError('ERR_AUDIT_KEY', `${file} holds ${bytes.length} bytes, not ${KEY_BYTES}`);
  }
  return bytes;
}

/**
 * HMAC-SHA256 (hex) of a secret value under the audit key.
 *
 * @example
 * fingerprint(key, 'hunter2hunter2'); // 'a1b2…'
 */
export function fingerprint(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}
