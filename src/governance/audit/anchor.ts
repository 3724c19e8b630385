/**
 * The anchor: a second copy of the audit log's head (last seq and hash) in a place the operator
 * chooses (`audit.anchor`), written after each append. A file gets one JSON line appended per head
 * (put it on append-only or other-owner storage); a command receives the line on stdin (to send it
 * to syslog, a SIEM, an object store with retention lock). `rekey audit verify` checks the log
 * against the newest head of an anchor file: a log with fewer records than the anchor says was
 * truncated, even when the head in the state directory was rewritten to match.
 */
import { spawn } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { ioError, readIfExists } from '../../lib/fsx.js';
import type { ChainHead } from './chain.js';
import { logLines } from './chain.js';

export type AnchorSetting = { readonly file: string } | { readonly command: string };

export interface AnchorTarget {
  readonly setting: AnchorSetting;
  /** The folder of rekey.yaml: relative paths, and the command's working directory. */
  readonly dir: string;
}

export interface AnchorHead extends ChainHead {
  readonly time: string;
  readonly stack: string;
  /** HMAC of seq and hash under the MAC key (`mac.ts`). */
  readonly mac?: string;
}

/** How long an anchor command may take. */
const COMMAND_TIMEOUT_MS = 10_000;

/** The configured anchor of a stack, if any. */
export function anchorOf(loaded: LoadedConfig): AnchorTarget | undefined {
  const a = loaded.config.audit.anchor;
  return a === undefined ? undefined : { setting: a, dir: loaded.dir };
}

/** The anchor file's path (undefined for a command anchor). */
export function anchorFile(target: AnchorTarget): string | undefined {
  return 'file' in target.setting ? path.resolve(target.dir, target.setting.file) : undefined;
}

/**
 * Writes one head to the anchor. Throws (a one-line message) when the file cannot be appended to or
 * the command fails; the caller decides what that means (a warning: the record itself is written).
 *
 * @example
 * await writeAnchor(anchorOf(loaded)!, { seq: 7, hash, time, stack: 'app', mac });
 */
export async function writeAnchor(target: AnchorTarget, head: AnchorHead): Promise<void> {
  const line = `${JSON.stringify(head)}\n`;
  const file = anchorFile(target);
  if (file !== undefined) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      await handle.appendFile(line, 'utf8');
      await handle.sync();
    } catch (e) {
      throw ioError('append to the audit anchor', file, e as NodeJS.ErrnoException);
    } finally {
      await handle?.close().catch(() => {});
    }
    return;
  }
  const command = (target.setting as { command: string }).command;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: target.dir,
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr?.on('data', (b) => {
      if (stderr.length < 2000) stderr += b;
    });
    child.on('error', (e) => reject(new Error(`audit anchor command could not start: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else {
        const last = stderr.trim().split('\n').at(-1) ?? '';
        reject(
          new Error(
            `audit anchor command failed (${signal ? `signal ${signal}` : `exit ${code}`})${last ? `: ${last}` : ''}`,
          ),
        );
      }
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(line);
  });
}

/**
 * The newest head in an anchor file (the highest seq of its JSON lines); undefined when the file
 * does not exist or holds none.
 */
export async function readAnchorFile(file: string): Promise<ChainHead | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  let best: ChainHead | undefined;
  for (const line of logLines(text)) {
    try {
      const h = JSON.parse(line) as Partial<ChainHead>;
      if (typeof h.seq === 'number' && Number.isInteger(h.seq) && typeof h.hash === 'string') {
        if (best === undefined || h.seq > best.seq) best = { seq: h.seq, hash: h.hash };
      }
    } catch {
      // a torn line: skipped
    }
  }
  return best;
}
