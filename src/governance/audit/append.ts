/**
 * Appending to the audit log: under a small lock (requests, approvals and rotations may append at
 * the same time), read the tail, chain the new record to it, MAC it under the audit key, append with
 * O_APPEND and fsync, then move the chain head (MACed too) and send it to the anchor. A head that no
 * longer matches the log (truncated or edited tail) is left alone, so the break stays visible to
 * `rekey audit verify` instead of being papered over.
 */
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir, ioError, readIfExists, writeFileAtomic } from '../../lib/fsx.js';
import { withLock } from '../../lib/lock-wait.js';
import { log } from '../../lib/log.js';
import { redactor, safeMessage } from '../../lib/redact.js';
import { type AnchorTarget, writeAnchor } from './anchor.js';
import { type ChainHead, headMatches, lineHash, logLines } from './chain.js';
import { auditKey, auditKeyAt } from './key.js';
import { headMac, macKeyOf, sealLine } from './mac.js';
import { type AuditRecord, GENESIS } from './types.js';

/** A record as its author writes it: seq, prev, stack, host and time are filled in on append. */
export type AuditDraft = Omit<AuditRecord, 'seq' | 'prev' | 'stack' | 'stackKey' | 'host' | 'time'> & {
  readonly time?: string;
};

export interface AuditPaths {
  /** The JSONL log. */
  readonly file: string;
  /** The state directory holding `audit-head` and the append lock. */
  readonly stateDir: string;
  readonly stack: string;
  /** The stack key (`LoadedConfig.stackKey`) recorded in each record, when known. */
  readonly stackKey?: string;
  /** The audit key file (`audit.keyFile`); default `<stateDir>/audit.key`. */
  readonly keyFile?: string;
  /** Where the head is also written after each append (`audit.anchor`). */
  readonly anchor?: AnchorTarget;
}

export function headFile(stateDir: string): string {
  return path.join(stateDir, 'audit-head');
}

/** Reads the chain head; undefined when there is none (or it is unreadable garbage). */
export async function readHead(stateDir: string): Promise<ChainHead | undefined> {
  const text = await readIfExists(headFile(stateDir));
  if (text === undefined) return undefined;
  try {
    const h = JSON.parse(text) as Partial<ChainHead>;
    if (typeof h.seq === 'number' && typeof h.hash === 'string') {
      return { seq: h.seq, hash: h.hash, ...(typeof h.mac === 'string' ? { mac: h.mac } : {}) };
    }
  } catch {
    // fall through
  }
  return { seq: Number.NaN, hash: 'unreadable' };
}

export interface AppendResult {
  readonly record: AuditRecord;
  /** False when the head did not match the log before this append (it was not moved). */
  readonly chained: boolean;
  /** Why the head could not be written to the anchor (the record itself was written). */
  readonly anchorError?: string;
}

/**
 * The lock of the audit log's appends: the project's one lock (holder pid + start time, taken over
 * only when its holder died), so a slow append is never taken over while its process lives.
 */
export function auditLockDir(stateDir: string): string {
  return path.join(stateDir, 'locks', 'audit');
}

/**
 * Appends one record (fsynced) and moves the chain head. Refuses a record that contains a
 * registered secret value.
 *
 * @example
 * await appendAudit({ file, stateDir, stack }, { kind: 'approval', operator, outcome: 'recorded' });
 */
export async function appendAudit(paths: AuditPaths, draft: AuditDraft): Promise<AppendResult> {
  await ensurePrivateDir(paths.stateDir);
  await fs.mkdir(path.dirname(paths.file), { recursive: true });
  const macKey = macKeyOf(
    paths.keyFile === undefined ? await auditKey(paths.stateDir) : await auditKeyAt(paths.keyFile),
  );
  return withLock(auditLockDir(paths.stateDir), 'audit append', async () => {
    const text = (await readIfExists(paths.file)) ?? '';
    const lines = logLines(text);
    const head = await readHead(paths.stateDir);
    const chained = headMatches(lines, head);
    const last = lines.at(-1);
    const { time, ...rest } = draft;
    const record: AuditRecord = {
      seq: lines.length + 1,
      time: time ?? new Date().toISOString(),
      stack: paths.stack,
      ...(paths.stackKey ? { stackKey: paths.stackKey } : {}),
      host: os.hostname(),
      ...(redactStrings(rest) as typeof rest),
      prev: last === undefined ? GENESIS : lineHash(last),
    };
    const line = sealLine(JSON.stringify(record), macKey);
    // A torn last line (a write cut short) stays visible; the new record starts on its own line.
    const prefix = text === '' || text.endsWith('\n') ? '' : '\n';
    await appendDurably(paths.file, `${prefix}${line}\n`);
    const hash = lineHash(line);
    const mac = headMac(macKey, record.seq, hash);
    if (chained) {
      await writeFileAtomic(headFile(paths.stateDir), `${JSON.stringify({ seq: record.seq, hash, mac })}\n`, {
        mode: 0o600,
      });
    }
    let anchorError: string | undefined;
    if (paths.anchor !== undefined) {
      // The record is written and chained: a failed anchor is a warning, and the next append sends
      // the newer head (`rekey audit verify` says when the anchor lags behind the log).
      try {
        await writeAnchor(paths.anchor, {
          seq: record.seq,
          hash,
          time: record.time,
          stack: paths.stack,
          mac,
        });
      } catch (e) {
        anchorError = safeMessage(e);
        log.warn(`the audit head (record ${record.seq}) was NOT written to the anchor: ${anchorError}`);
      }
    }
    return { record, chained, ...(anchorError ? { anchorError } : {}) };
  });
}

/** Digests are never redacted (a short secret could match hex digits by chance). */
const DIGESTS = new Set(['fingerprint', 'sha256', 'prev', 'hash']);

/**
 * Every free-text string of a record (operator, reason, ticket, error messages, file names) through
 * the redactor: a value typed by mistake into `--reason` or echoed in an error never reaches the log.
 */
function redactStrings(value: unknown, key?: string): unknown {
  if (typeof value === 'string')
    return key !== undefined && DIGESTS.has(key) ? value : redactor.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactStrings(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactStrings(v, k)]));
  }
  return value;
}

async function appendDurably(file: string, text: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  let created = false;
  try {
    try {
      handle = await fs.open(
        file,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL,
        0o600,
      );
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      handle = await fs.open(file, 'a');
    }
    await handle.appendFile(text, 'utf8');
    await handle.sync();
  } catch (e) {
    throw ioError('append to', file, e as NodeJS.ErrnoException);
  } finally {
    await handle?.close().catch(() => {});
  }
  if (created) await fsyncDir(path.dirname(file)).catch(() => {});
}
