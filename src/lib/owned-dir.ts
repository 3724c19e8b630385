/**
 * Folders rekey creates, and the only way it removes a folder recursively. A folder is created with
 * a marker file (`.rekey-owned`) naming its own real path; it is removed only when that marker is
 * still there, is a regular file of ours, and names exactly that folder. Anything else — a folder
 * without the marker, a copy of a marked folder, a symbolic link to one, `/`, the temp folder itself,
 * the home folder — is refused with ERR_NOT_OWNED and nothing is deleted. Never compute the folder to
 * remove (no `dirname` of something): pass the path {@link makeOwnedDir} returned.
 *
 * The marker is three lines: `rekey-owned-dir 1`, the folder's real path, a random token. The demo's
 * generated `stop-demo.sh` checks the same first two lines before it removes a folder, and removes
 * the marker last like {@link removeOwnedDir}.
 */
import { randomBytes } from 'node:crypto';
import {
  promises as fs,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RekeyError } from './errors.js';

/** The marker's file name inside an owned folder. */
export const OWNED_MARKER = '.rekey-owned';
/** The marker's first line. */
export const OWNED_MARKER_HEADER = 'rekey-owned-dir 1';

export interface OwnedDirOptions {
  /** The folder to create it in (default: the OS temp folder, `os.tmpdir()`). */
  readonly base?: string;
}

function checkPrefix(prefix: string): void {
  if (prefix === '' || prefix.includes('/') || prefix.includes('\0'))
    throw new RekeyError('ERR_INTERNAL', `owned folder prefix ${JSON.stringify(prefix)} is not a file name`);
}

const markerText = (dir: string) => `${OWNED_MARKER_HEADER}\n${dir}\n${randomBytes(16).toString('hex')}\n`;

function badName(dir: string): boolean {
  return dir.includes('\n') || dir.includes('\r');
}

/**
 * Creates a new private folder (mode 0700) named `<prefix>XXXXXX` in `base` (default the OS temp
 * folder) and writes its marker; returns its real path, the one to pass to {@link removeOwnedDir}.
 *
 * @example
 * const dir = await makeOwnedDir('rekey-sig-'); // '/tmp/rekey-sig-a1B2c3'
 * try { ... } finally { await removeOwnedDir(dir); }
 */
export async function makeOwnedDir(prefix: string, options: OwnedDirOptions = {}): Promise<string> {
  checkPrefix(prefix);
  const created = await fs.mkdtemp(path.join(options.base ?? os.tmpdir(), prefix));
  try {
    const dir = await fs.realpath(created);
    if (badName(dir)) throw new RekeyError('ERR_IO', `temp folder path holds a line break: ${created}`);
    await fs.writeFile(path.join(dir, OWNED_MARKER), markerText(dir), { mode: 0o600, flag: 'wx' });
    return dir;
  } catch (error) {
    await fs.rmdir(created).catch(() => {}); // empty, ours: no recursion needed
    throw error;
  }
}

/** {@link makeOwnedDir}, synchronously (for scripts and exit paths). */
export function makeOwnedDirSync(prefix: string, options: OwnedDirOptions = {}): string {
  checkPrefix(prefix);
  const created = mkdtempSync(path.join(options.base ?? os.tmpdir(), prefix));
  try {
    const dir = realpathSync(created);
    if (badName(dir)) throw new RekeyError('ERR_IO', `temp folder path holds a line break: ${created}`);
    writeFileSync(path.join(dir, OWNED_MARKER), markerText(dir), { mode: 0o600, flag: 'wx' });
    return dir;
  } catch (error) {
    try {
      rmdirSync(created);
    } catch {
      // not empty or gone: leave it
    }
    throw error;
  }
}

/** Folders never removed, marker or not: `/`, the temp folders and the home folder. */
function protectedDirs(): Set<string> {
  const candidates = [
    '/',
    os.tmpdir(),
    os.homedir(),
    process.env.TMPDIR,
    process.env.REKEY_STACK_TMPDIR,
    '/tmp',
    '/var/tmp',
    '/dev/shm',
  ];
  const out = new Set<string>();
  for (const c of candidates) {
    if (!c) continue;
    out.add(path.resolve(c));
    try {
      out.add(realpathSync(c));
    } catch {
      // does not exist
    }
  }
  return out;
}

function refuse(dir: string, why: string): never {
  throw new RekeyError('ERR_NOT_OWNED', `refusing to remove ${dir}: ${why}`);
}

/**
 * Checks that `dir` is an owned folder; returns its real path, or undefined when nothing is there.
 * Throws ERR_NOT_OWNED otherwise.
 */
function ownedPath(dir: string): string | undefined {
  const abs = path.resolve(dir);
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(abs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (info.isSymbolicLink()) refuse(abs, 'it is a symbolic link, not a folder rekey created');
  if (!info.isDirectory()) refuse(abs, 'it is not a folder');
  const real = realpathSync(abs);
  const never = protectedDirs();
  if (never.has(abs) || never.has(real) || path.parse(real).root === real)
    refuse(abs, 'it is the root, a temp folder or the home folder');
  const marker = path.join(real, OWNED_MARKER);
  let mark: ReturnType<typeof lstatSync>;
  try {
    mark = lstatSync(marker);
  } catch {
    refuse(abs, `it has no ${OWNED_MARKER} marker (rekey did not create it)`);
  }
  if (!mark.isFile()) refuse(abs, `its ${OWNED_MARKER} is not a regular file`);
  const euid = process.geteuid?.();
  if (euid !== undefined && mark.uid !== euid) refuse(abs, `its ${OWNED_MARKER} belongs to another user`);
  const [header, owner] = readFileSync(marker, 'utf8').split('\n');
  if (header !== OWNED_MARKER_HEADER || owner !== real)
    refuse(abs, `its ${OWNED_MARKER} marker names another folder (a copy or a move)`);
  return real;
}

/** Symbolic links are removed, never followed; a folder is removed with what is in it. */
const RM = { recursive: true, force: true, maxRetries: 3 } as const;

/**
 * What {@link removeOwnedDir} removes, in order: every entry of `real` but the marker, then the marker
 * (the folder itself last). A removal cut short (kill -9, a power cut) so leaves a folder that still
 * holds its marker, which the next removal accepts — never a half-removed folder nobody may remove.
 */
function removalOrder(real: string): string[] {
  const others = readdirSync(real).filter((name) => name !== OWNED_MARKER);
  return [...others, OWNED_MARKER].map((name) => path.join(real, name));
}

/**
 * Removes a folder made by {@link makeOwnedDir}, recursively, after checking its marker; a folder
 * already gone is fine (returns false). Anything else is refused with ERR_NOT_OWNED and nothing is
 * removed. Symbolic links inside are removed, never followed. The marker goes after everything else
 * in the folder and before the folder itself, so a removal killed midway can be done again.
 *
 * @example
 * await removeOwnedDir(dir); // true: removed
 */
export async function removeOwnedDir(dir: string): Promise<boolean> {
  const real = ownedPath(dir);
  if (real === undefined) return false;
  for (const entry of removalOrder(real)) await fs.rm(entry, RM);
  await fs.rm(real, RM); // empty by now, unless a process still writing in it added something since
  return true;
}

/** {@link removeOwnedDir}, synchronously (for exit handlers). */
export function removeOwnedDirSync(dir: string): boolean {
  const real = ownedPath(dir);
  if (real === undefined) return false;
  for (const entry of removalOrder(real)) rmSync(entry, RM);
  rmSync(real, RM);
  return true;
}

/** True when `dir` is a folder {@link removeOwnedDir} would remove. */
export function isOwnedDir(dir: string): boolean {
  try {
    return ownedPath(dir) !== undefined;
  } catch {
    return false;
  }
}
