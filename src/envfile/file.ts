/**
 * Reading and writing the env file itself. Writes go through `writeFileAtomic` (temp file, fsync,
 * rename, fsync of the directory): the file's owner and mode are kept, a symlink is written at its
 * target and left in place.
 */
import { promises as fs } from 'node:fs';
import { RekeyError } from '../core/errors.js';
import { ioError, writeFileAtomic } from '../core/fsx.js';
import { log } from '../core/log.js';
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
 * line cannot be parsed. Warns when group or others have any access to it.
 *
 * @example
 * const env = await readEnvFile('.env.production');
 * envValues(env.doc).get('REDIS_PASSWORD');
 */
export async function readEnvFile(file: string): Promise<LoadedEnvFile> {
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
  if ((mode & 0o077) !== 0 && !warned.has(realPath)) {
    warned.add(realPath); // once per process, however often the file is read
    log.warn(
      `${file} is open to group or others (mode ${mode.toString(8).padStart(4, '0')}); it holds secrets: run \`chmod 600 ${file}\``,
    );
  }
  return { path: file, realPath, text, doc, mode };
}

/**
 * Replaces the env file's content atomically. Keeps the owner and mode of the existing file (a new
 * file is created 0600); a symlink is followed, its target rewritten and the link left in place.
 *
 * @example
 * await writeEnvFile('.env.production', editEnv(env.doc, changes, { annotation: new Date() }));
 */
export async function writeEnvFile(file: string, text: string | Uint8Array): Promise<void> {
  await writeFileAtomic(file, text);
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
