/** Reading the audit log: the records for `status` and `audit show`, and the chain verdict. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import { readIfExists } from '../../lib/fsx.js';
import { anchorFile, anchorOf, readAnchorFile } from './anchor.js';
import type { AuditPaths } from './append.js';
import { readHead } from './append.js';
import { type ChainHead, type ChainVerdict, logLines, verifyChain } from './chain.js';
import { auditKeyFileOf, readAuditKeyAt } from './key.js';
import { macKeyOf } from './mac.js';
import type { AuditRecord } from './types.js';

/**
 * The absolute path of a stack's audit log (`audit.file`, relative to rekey.yaml).
 *
 * @example
 * auditFileOf(loaded); // '/srv/app/rekey-audit.jsonl'
 */
export function auditFileOf(loaded: LoadedConfig): string {
  return path.resolve(loaded.dir, loaded.config.audit.file);
}

/**
 * Where a stack's audit log, chain head and append lock live. The log may be shared by the stacks of
 * a folder, so its head and lock live in the shared state root; each record carries the stack key.
 */
export function auditPaths(loaded: LoadedConfig): AuditPaths {
  return {
    file: auditFileOf(loaded),
    stateDir: loaded.stateRoot,
    stack: loaded.stack,
    stackKey: loaded.stackKey,
    keyFile: auditKeyFileOf(loaded),
    ...(anchorOf(loaded) ? { anchor: anchorOf(loaded)! } : {}),
  };
}

/**
 * The records of an audit log in file order; a missing file is an empty log. Lines that are not
 * JSON records are skipped: this reads, it does not judge (`verifyAuditLog` checks the chain).
 *
 * @example
 * const records = await readAuditLog(auditFileOf(loaded));
 * records.filter((r) => r.kind === 'rotate').at(-1)?.time;
 */
export async function readAuditLog(file: string): Promise<AuditRecord[]> {
  const text = await readIfExists(file);
  if (text === undefined) return [];
  const records: AuditRecord[] = [];
  for (const line of logLines(text)) {
    try {
      const r = JSON.parse(line) as unknown;
      if (r !== null && typeof r === 'object' && !Array.isArray(r)) records.push(r as AuditRecord);
    } catch {
      // skipped; `rekey audit verify` reports it
    }
  }
  return records;
}

/**
 * Whether the log already holds the record that ends rotation `rotationId` with `outcome` (rotated,
 * rolled back): a rerun (`recover` after a crash between the record and the journal's close) must
 * not append it twice.
 *
 * @example
 * if (!(await hasClosingRecord(file, result.id, 'rotated'))) await appendAudit(paths, record);
 */
export async function hasClosingRecord(file: string, rotationId: string, outcome: string): Promise<boolean> {
  return (await readAuditLog(file)).some((r) => r.rotationId === rotationId && r.outcome === outcome);
}

/**
 * Verifies a stack's audit log against its chain head (edited, deleted, reordered, truncated).
 *
 * @example
 * const verdict = await verifyAuditLog(loaded);
 * verdict.ok; // false after someone edited a record
 */
export async function verifyAuditLog(
  loaded: LoadedConfig,
  options: { anchorFile?: string } = {},
): Promise<AuditVerdict> {
  const file = auditFileOf(loaded);
  const keyFile = auditKeyFileOf(loaded);
  const configured = anchorOf(loaded);
  const anchorPath = options.anchorFile ?? (configured ? anchorFile(configured) : undefined);
  const [text, head, key, anchor] = await Promise.all([
    readIfExists(file),
    readHead(loaded.stateRoot),
    // A reader of the log need not hold the key: without it the chain and the anchor are checked.
    readAuditKeyAt(keyFile).catch(() => undefined),
    anchorPath === undefined ? undefined : readAnchorFile(anchorPath),
  ]);
  let verdict = verifyChain(text, head, {
    ...(key ? { macKey: macKeyOf(key) } : {}),
    ...(anchor ? { anchor } : {}),
  });
  // An anchor file that is gone while the log holds records written by this version (each of their
  // appends sent a head): deleted, perhaps together with the log's tail. A log of the previous
  // version (no MACs) was never anchored; an empty anchor file is one re-created on purpose: warnings.
  const anchorGone =
    anchorPath !== undefined && verdict.records - (verdict.legacy ?? 0) > 0 && !(await exists(anchorPath));
  if (verdict.ok && anchorGone) {
    verdict = {
      ...verdict,
      ok: false,
      broken: {
        seq: verdict.records,
        reason: `the anchor file ${anchorPath} is gone, but the log holds ${verdict.records} record(s): the anchor was deleted (with the log's tail?), so a truncation can no longer be checked`,
      },
    };
  }
  return {
    file,
    keyFile,
    ...verdict,
    ...(anchorGone ? { anchorMissing: true } : {}),
    ...(anchorPath !== undefined ? { anchorFile: anchorPath, ...(anchor ? { anchor } : {}) } : {}),
    ...(configured && anchorPath === undefined ? { anchorCommand: true } : {}),
  };
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== 'ENOENT',
  );
}

export type AuditVerdict = ChainVerdict & {
  readonly file: string;
  readonly keyFile: string;
  /** The anchor file read (configured, or `--anchor`), and its newest head. */
  readonly anchorFile?: string;
  readonly anchor?: ChainHead;
  /** The anchor is a command: its heads are not read back (pass `--anchor FILE`). */
  readonly anchorCommand?: boolean;
  /** The anchor file does not exist while the log holds records (verify fails). */
  readonly anchorMissing?: boolean;
};
