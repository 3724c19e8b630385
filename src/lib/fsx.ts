/**
 * Durable file writes. Anything holding a secret is written with {@link writeFileAtomic}: a temp
 * file in the same directory, fsync, rename over the target, fsync of the directory. A crash leaves
 * either the old bytes or the new, never a torn file.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from './errors.js';

export interface AtomicWriteOptions {
  /** File mode for a new file (default 0o600). An existing file keeps its mode unless `forceMode`. */
  mode?: number;
  /** Apply `mode` even when the file exists. */
  forceMode?: boolean;
}

/**
 * Writes `content` to `file` atomically. A symlink is followed: its target is replaced, the link kept.
 * An existing file's mode and owner are kept.
 *
 * @example
 * await writeFileAtomic('/srv/app/.env.production', text);
 */
export async function writeFileAtomic(
  file: string,
  content: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = await resolveSymlink(file);
  const dir = path.dirname(target);
  const existing = await fs.stat(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw ioError('read', target, e);
  });
  const mode = options.forceMode || existing === undefined ? (options.mode ?? 0o600) : existing.mode & 0o7777;
  const tmp = path.join(dir, `.${path.basename(target)}.rekey-tmp-${randomBytes(6).toString('hex')}`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    await handle.chmod(mode); // umask must not widen or narrow it
    if (existing !== undefined && process.getuid?.() === 0) {
      await handle.chown(existing.uid, existing.gid);
    }
    await handle.writeFile(content);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, target);
    await fsyncDir(dir);
  } catch (e) {
    await handle?.close().catch(() => {});
    await fs.rm(tmp, { force: true }).catch(() => {});
    if (e instanceof RekeyError) throw e;
    throw ioError('write', target, e as NodeJS.ErrnoException);
  }
}

/**
 * Creates `file` with `content` (mode `mode`), failing when it exists; fsyncs it and its directory.
 * Returns false instead of throwing when the file already exists. The file appears whole or not at
 * all: the content is written and fsynced to a temp file first, then hard-linked to its name (link
 * fails when the name exists), so a reader or a crash never sees a partial file under that name.
 * Where the filesystem has no hard links, it is created in place with O_EXCL instead.
 *
 * @example
 * if (!(await writeFileExclusive(marker, text))) throw new Error('already there');
 */
export async function writeFileExclusive(
  file: string,
  content: string | Uint8Array,
  mode = 0o600,
): Promise<boolean> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.rekey-tmp-${randomBytes(6).toString('hex')}`);
  if (!(await createExclusive(tmp, content, mode))) {
    throw ioError('create', tmp, Object.assign(new Error('exists'), { code: 'EEXIST' }));
  }
  try {
    await fs.link(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') {
      throw ioError('create', file, e as NodeJS.ErrnoException);
    }
    return createExclusive(file, content, mode);
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => {});
  }
  await fsyncDir(dir);
  return true;
}

/** O_EXCL create + write + fsync of `file` itself; false when it exists. */
async function createExclusive(file: string, content: string | Uint8Array, mode: number): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError('create', file, e as NodeJS.ErrnoException);
  }
  try {
    await handle.chmod(mode);
    await handle.writeFile(content);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => {});
    await fs.rm(file, { force: true }).catch(() => {});
    throw ioError('write', file, e as NodeJS.ErrnoException);
  }
  await handle.close();
  await fsyncDir(path.dirname(file));
  return true;
}

/** fsync a directory so a rename or create inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes a file and fsyncs its directory; no error when it is already gone. */
export async function removeDurably(file: string): Promise<void> {
  await fs.rm(file, { force: true });
  await fsyncDir(path.dirname(file)).catch(() => {});
}

/** Creates a directory (and parents) with mode 0700 unless it exists; tightens an existing one. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.stat(dir);
  if ((st.mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
}

/** Reads a UTF-8 file, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read', file, e as NodeJS.ErrnoException);
  }
}

/** Follows symlinks to the file that really holds the bytes (the path itself when it does not exist). */
export async function resolveSymlink(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      // A dangling link: write where it points.
      const link = await fs.readlink(file).catch(() => undefined);
      return link === undefined ? path.resolve(file) : path.resolve(path.dirname(file), link);
    }
    throw ioError('resolve', file, e as NodeJS.ErrnoException);
  }
}

export function ioError(action: string, file: string, e: NodeJS.ErrnoException): RekeyError {
  return new RekeyError('ERR_IO', `cannot ${action} ${file}: ${e.code ?? 'error'}`, { cause: e });
}

/**
 * Removes temp files {@link writeFileAtomic} and {@link writeFileExclusive} left behind when a
 * process died between creating and renaming them (they may hold a whole env file). Only call it
 * holding the stack's lock. With `minAgeMs`, younger temp files are left alone: in a folder where
 * processes that do not hold the stack's lock also write (the audit head, approvals), a young temp
 * file may be another process's write in progress.
 *
 * @example
 * await removeStaleTemps('/srv/app', '.env.production');
 */
export async function removeStaleTemps(dir: string, basename?: string, minAgeMs = 0): Promise<number> {
  const prefix = basename === undefined ? '.' : `.${basename}.rekey-tmp-`;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.includes('.rekey-tmp-')) continue;
    const file = path.join(dir, name);
    if (minAgeMs > 0) {
      const st = await fs.stat(file).catch(() => undefined);
      if (st === undefined || Date.now() - st.mtimeMs < minAgeMs) continue;
    }
    await fs.rm(file, { force: true });
    removed++;
  }
  return removed;
}
