/**
 * Reading and writing the env file itself. Writes go through `writeFileAtomic` (temp file, fsync,
 * rename, fsync of the directory): the file's owner is kept, its mode set to 0600 (or the configured
 * `envFileMode`, never wider than it was), a symlink is written at its target (the one resolved at
 * preflight) and left in place. A folder others can write is refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { ioError, writeFileAtomic } from '../lib/fsx.js';
import { log } from '../lib/log.js';
import type { EnvDocument } from './parse.js';
import { parseEnv } from './parse.js';

/** An env file as read: its text, parsed, and where it really lives. */
export interface LoadedEnvFile {
  /** The path as given. */
  path: string;
  /** The file holding the bytes, symlinks followed. */
  realPath: string;
  text: string;
  doc: EnvDocument;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
}

const warned = new Set<string>();

/**
 * Reads and parses an env file. Throws ERR_ENVFILE_NOT_FOUND when it does not exist and
 * ERR_ENVFILE_PARSE when it is not valid UTF-8 (its bytes could not be written back unchanged) or a
 * line cannot be parsed. Warns when group or others have any access to it (`judgeMode: false`: the
 * caller judges it with {@link judgeEnvFileMode} against the configured mode).
 *
 * @example
 * const env = await readEnvFile('.env.production');
 * envValues(env.doc).get('REDIS_PASSWORD');
 */
export async function readEnvFile(
  file: string,
  options: { readonly judgeMode?: boolean } = {},
): Promise<LoadedEnvFile> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    throw notFoundOr(file, e as NodeJS.ErrnoException);
  }
  let bytes: Buffer;
  let mode: number;
  try {
    // One handle for both, so the mode reported is that of the bytes read.
    mode = (await handle.stat()).mode & 0o7777;
    bytes = await handle.readFile();
  } catch (e) {
    throw ioError('read', file, e as NodeJS.ErrnoException);
  } finally {
    await handle.close().catch(() => {});
  }
  const realPath = await fs.realpath(file).catch((e: NodeJS.ErrnoException) => {
    throw ioError('resolve', file, e);
  });
  const text = decodeUtf8(bytes, file);
  const doc = parseEnv(text, file);
  const loaded = { path: file, realPath, text, doc, mode };
  if (options.judgeMode !== false) judgeEnvFileMode(loaded, DEFAULT_ENV_FILE_MODE);
  return loaded;
}

/**
 * Warns (once per process and file) when group or others have more access to the env file than
 * `allowed` (the configured `envFileMode`, 0600 by default) grants them.
 *
 * @example
 * judgeEnvFileMode(await readEnvFile(f, { judgeMode: false }), 0o640); // silent for a 0640 file
 */
export function judgeEnvFileMode(env: LoadedEnvFile, allowed: number): void {
  if (warned.has(env.realPath)) return;
  warned.add(env.realPath); // once per process, however often the file is read
  if ((env.mode & 0o077 & ~allowed) === 0) return;
  const want = (allowed & 0o777).toString(8);
  log.warn(
    `${env.path} is open to group or others (mode ${env.mode.toString(8).padStart(4, '0')}); it holds secrets: run \`chmod ${want} ${env.path}\``,
  );
}

/** The env file's mode when the config does not say: owner read and write only. */
export const DEFAULT_ENV_FILE_MODE = 0o600;

export interface WriteEnvFileOptions {
  /**
   * The mode the file gets (default {@link DEFAULT_ENV_FILE_MODE}), narrowed to the bits the
   * existing file had: a rewrite never opens the file wider than it was (0644 becomes 0600; with
   * 0640 configured, a 0600 file stays 0600).
   */
  mode?: number;
  /**
   * The real path resolved at preflight. The bytes go to that file only: when `file` (a symlink) now
   * leads elsewhere, nothing is written and ERR_ENVFILE_CHANGED is thrown.
   */
  realPath?: string;
}

/**
 * Replaces the env file's content atomically, with mode `options.mode` (default 0600) never wider
 * than the file had; keeps the owner. A symlink is followed, its target rewritten and the link left in
 * place; with `options.realPath`, only if it still leads there.
 *
 * @example
 * await writeEnvFile('.env.production', editEnv(env.doc, changes, { annotation: new Date() }));
 */
export async function writeEnvFile(
  file: string,
  text: string | Uint8Array,
  options: WriteEnvFileOptions = {},
): Promise<void> {
  let target = file;
  if (options.realPath !== undefined) {
    await assertLeadsTo(file, options.realPath);
    target = options.realPath;
    const st = await fs.lstat(target).catch(() => undefined);
    if (st !== undefined && !st.isFile()) {
      throw new RekeyError(
        'ERR_ENVFILE_CHANGED',
        `${target} is no longer a regular file; it was not written`,
        {
          hint: 'Someone replaced the env file while rekey ran: check the folder, then rotate again.',
        },
      );
    }
  }
  const wanted = options.mode ?? DEFAULT_ENV_FILE_MODE;
  const existing = await fs.stat(target).catch(() => undefined);
  const mode = existing === undefined ? wanted : wanted & existing.mode & 0o777;
  await writeFileAtomic(target, text, { mode, forceMode: true });
}

/**
 * Throws ERR_ENVFILE_CHANGED (having written nothing) when `file` no longer resolves to `realPath`,
 * the file preflight read: a symlink swapped meanwhile must not send the new secrets elsewhere.
 *
 * @example
 * await assertLeadsTo('.env.production', journal.envFile);
 */
export async function assertLeadsTo(file: string, realPath: string): Promise<void> {
  const now = await fs.realpath(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw ioError('resolve', file, e);
  });
  if (now !== realPath) {
    throw new RekeyError(
      'ERR_ENVFILE_CHANGED',
      `${file} now leads to ${now ?? 'nothing'}, not to ${realPath} as at preflight; the new values were not written`,
      {
        hint: 'Someone changed the env file link while rekey ran: check who, restore it, then rotate again.',
      },
    );
  }
}

/**
 * Refuses (ERR_ENVFILE_UNSAFE_DIR, exit 2) an env file whose folder (where the path given lives, and
 * where the file really lives when that is a symlink) others can write: they could swap the file or
 * the link for their own between two steps of a rotation. A sticky folder (`chmod +t`) owned by the
 * user running rekey is accepted (others cannot rename or remove what is not theirs there); /tmp itself
 * (sticky, but owned by root) is not.
 *
 * @example
 * await checkEnvFileFolder('.env.production');
 */
export async function checkEnvFileFolder(file: string): Promise<void> {
  const dirs = new Set([path.dirname(path.resolve(file))]);
  const real = await fs.realpath(file).catch(() => undefined);
  if (real !== undefined) dirs.add(path.dirname(real));
  const uid = process.getuid?.();
  for (const dir of dirs) {
    const st = await fs.stat(dir).catch((e: NodeJS.ErrnoException) => {
      throw ioError('read', dir, e);
    });
    if ((st.mode & 0o022) === 0) continue;
    const sticky = (st.mode & 0o1000) !== 0;
    if (sticky && uid !== undefined && st.uid === uid) continue;
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new RekeyError(
      'ERR_ENVFILE_UNSAFE_DIR',
      `the env file's folder ${dir} is writable by ${(st.mode & 0o002) !== 0 ? 'everyone' : 'its group'} (mode ${mode}); nothing was changed`,
      { hint: `Run \`chmod go-w ${dir}\`, or move the env file to a folder only you can write.` },
    );
  }
}

function notFoundOr(file: string, e: NodeJS.ErrnoException): RekeyError {
  if (e.code === 'ENOENT') {
    return new RekeyError('ERR_ENVFILE_NOT_FOUND', `env file not found: ${file}`, { cause: e });
  }
  return ioError('read', file, e);
}

/** Strict UTF-8 decoding, keeping a BOM: a file that does not decode cannot be written back byte for byte. */
function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); ; nl = bytes.indexOf(0x0a, start)) {
      const end = nl < 0 ? bytes.length : nl;
      try {
        new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(start, end));
      } catch {
        break;
      }
      if (nl < 0) break;
      line++;
      start = nl + 1;
    }
    throw new RekeyError('ERR_ENVFILE_PARSE', `${file} line ${line}: not valid UTF-8`, {
      hint: 'Save the env file as UTF-8; rekey rewrites it and must keep every byte it does not change.',
    });
  }
}
