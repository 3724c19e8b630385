/** Temp dirs for throwaway servers, readable by a service user when we run as root. */
import { constants } from 'node:fs';
import { chown, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { makeOwnedDir } from '../../src/lib/owned-dir.js';
import type { SystemUser } from './pg-bin.js';

/** True when every directory from `/` down to `dir` lets other users traverse it. */
async function traversable(dir: string): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info === undefined || (info.mode & constants.S_IXOTH) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

/**
 * Creates a new private temp dir (mode 0700, marked: see src/lib/owned-dir.ts) named `<prefix>XXXXXX` in $REKEY_STACK_TMPDIR (e.g.
 * /dev/shm: initdb is much faster on tmpfs) or the OS temp dir, owned by `owner` when given (we are
 * root and the server runs as that user; the base then falls back to /tmp when that user could not
 * reach it).
 *
 * @example
 * const root = await makeServerDir('rekey-pg-', pgUser); // '/tmp/rekey-pg-a1B2c3'
 */
export async function makeServerDir(prefix: string, owner?: SystemUser): Promise<string> {
  const wanted = process.env.REKEY_STACK_TMPDIR || tmpdir();
  const base = owner === undefined || (await traversable(wanted)) ? wanted : '/tmp';
  const dir = await makeOwnedDir(prefix, { base });
  if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
  return dir;
}
