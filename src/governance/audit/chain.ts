/**
 * The hash chain of the audit log, in pure code: each line's `prev` is the SHA-256 of the line
 * before it, and the chain head (`<stateDir>/audit-head`: seq and hash of the last line) pins the
 * tail. Verifying needs nothing but the log's text and the head.
 */
import { sha256 } from '../../lib/hash.js';
import { hasMac, headMac, macValid, same } from './mac.js';
import { GENESIS } from './types.js';

/** The newest record's seq and the SHA-256 of its line, kept apart from the log. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  /** HMAC of seq and hash under the MAC key (absent in heads written before MACs). */
  readonly mac?: string;
}

export interface ChainVerdict {
  readonly ok: boolean;
  /** Records read (lines that parse). */
  readonly records: number;
  /** The head as recomputed from the log (what an external anchor should hold). */
  readonly last?: ChainHead;
  /** The first record that cannot be trusted, and why. */
  readonly broken?: { readonly seq: number; readonly reason: string };
  readonly warnings: readonly string[];
  /** Whether record MACs were checked (false: no key given, the chain and anchor were). */
  readonly macsChecked?: boolean;
  /** Records at the start of the log written before records were MACed (legacy). */
  readonly legacy?: number;
}

export interface VerifyOptions {
  /** The MAC key (`macKeyOf(audit key)`): without it MACs are not checked, only their presence. */
  readonly macKey?: Buffer;
  /** The newest head of the anchor (`audit.anchor`), kept out of the state directory. */
  readonly anchor?: ChainHead;
}

/** The lines of a log: its text split on `\n`, without the empty string after the final newline. */
export function logLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The hash a line contributes to the chain. */
export function lineHash(line: string): string {
  return sha256(line);
}

/**
 * Whether the head still describes these lines: true when the head is the last line's, or an
 * earlier line's after an append whose head update was cut short. False on a truncated log, an
 * edited tail, or a log without head.
 *
 * @example
 * headMatches(logLines(text), head); // true
 */
export function headMatches(lines: readonly string[], head: ChainHead | undefined): boolean {
  if (head === undefined) return lines.length === 0;
  const line = lines[head.seq - 1];
  return line !== undefined && lineHash(line) === head.hash;
}

/**
 * Checks a whole log against its head: every line a JSON record, seq 1, 2, 3 … in order, each `prev`
 * the hash of the line before, the last line the head's. Names the first record that breaks it.
 *
 * @example
 * const verdict = verifyChain(text, head);
 * if (!verdict.ok) console.log(verdict.broken); // { seq: 3, reason: 'record 3 was altered …' }
 */
export function verifyChain(
  text: string | undefined,
  head: ChainHead | undefined,
  options: VerifyOptions = {},
): ChainVerdict {
  const warnings: string[] = [];
  const anchor = options.anchor;
  if (text === undefined) {
    if (anchor !== undefined) {
      return broken(0, 1, `the audit log is missing, but the anchor says it held ${anchor.seq} records`);
    }
    if (head === undefined) return { ok: true, records: 0, warnings: ['no audit log yet'] };
    return broken(0, 1, `the audit log is missing, but the chain head says it held ${head.seq} records`);
  }
  const lines = logLines(text);
  let prev = GENESIS;
  for (const [i, line] of lines.entries()) {
    const seq = i + 1;
    let record: { seq?: unknown; prev?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      return broken(i, seq, `line ${seq} is not a JSON record (edited, or a write was cut short)`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      return broken(i, seq, `line ${seq} is not a JSON record`);
    }
    if (record.seq !== seq) {
      return broken(
        i,
        seq,
        `line ${seq} holds record ${String(record.seq)}: record ${seq} was deleted, or records were inserted or reordered`,
      );
    }
    if (record.prev !== prev) {
      const reason =
        seq === 1
          ? 'record 1 does not start the chain (records before it were removed, or it was altered)'
          : `record ${seq - 1} was altered after it was written (record ${seq} holds a different hash of it)`;
      return broken(i, Math.max(1, seq - 1), reason);
    }
    prev = lineHash(line);
  }
  const last = lines.length > 0 ? { seq: lines.length, hash: prev } : undefined;
  // Every line chains; what is left to check is the head, kept apart from the log.
  const headBroken = (seq: number, reason: string): ChainVerdict => ({
    ok: false,
    records: lines.length,
    ...(last ? { last } : {}),
    broken: { seq, reason },
    warnings,
  });
  // The anchor, kept out of the state directory: a truncation the state-dir head was rewritten to hide.
  if (anchor !== undefined) {
    if (anchor.seq > lines.length) {
      return headBroken(
        lines.length + 1,
        `the log ends at record ${lines.length} but the anchor says ${anchor.seq}: records ${lines.length + 1}..${anchor.seq} were removed (the log was truncated)`,
      );
    }
    const anchored = lines[anchor.seq - 1];
    if (anchored === undefined || lineHash(anchored) !== anchor.hash) {
      return headBroken(
        anchor.seq,
        `record ${anchor.seq} was altered after it was written (it does not match the anchor)`,
      );
    }
    if (anchor.seq < lines.length) {
      warnings.push(
        `the anchor is at record ${anchor.seq} of ${lines.length}: the records after it are not anchored (an anchor write failed, or they were appended by someone else)`,
      );
    }
  }
  const macNote = { macsChecked: options.macKey !== undefined };
  if (head === undefined) {
    if (lines.length === 0) return { ok: true, records: 0, warnings, ...macNote };
    return headBroken(
      lines.length,
      'the chain head (audit-head in the state directory) is missing: a removed tail cannot be ruled out',
    );
  }
  if (!Number.isInteger(head.seq) || head.seq < 1) {
    return headBroken(lines.length, 'the chain head (audit-head in the state directory) is unreadable');
  }
  if (head.seq > lines.length) {
    return headBroken(
      lines.length + 1,
      `the log ends at record ${lines.length} but the chain head says ${head.seq}: records ${lines.length + 1}..${head.seq} were removed`,
    );
  }
  const pinned = lines[head.seq - 1];
  if (pinned === undefined || lineHash(pinned) !== head.hash) {
    return headBroken(
      head.seq,
      `record ${head.seq} was altered after it was written (it does not match the chain head)`,
    );
  }
  if (head.seq < lines.length) {
    warnings.push(
      `the chain head is at record ${head.seq} of ${lines.length}: an append was cut short before the head was updated`,
    );
  }
  // Records: from the first MACed one on, every record carries a MAC (an unMACed tail was appended
  // by someone without the key), and with the key every MAC verifies.
  const firstMac = lines.findIndex(hasMac);
  const legacy = firstMac === -1 ? lines.length : firstMac;
  for (let i = Math.max(firstMac, 0); firstMac !== -1 && i < lines.length; i++) {
    const seq = i + 1;
    if (!hasMac(lines[i]!)) {
      return headBroken(
        seq,
        `record ${seq} carries no MAC, unlike the records before it: it was appended by someone without the audit key`,
      );
    }
    if (options.macKey !== undefined && !macValid(lines[i]!, options.macKey)) {
      return headBroken(
        seq,
        `record ${seq} was altered or forged: its MAC does not verify under the audit key`,
      );
    }
  }
  if (options.macKey !== undefined && head !== undefined && firstMac !== -1) {
    if (head.mac === undefined || !same(headMac(options.macKey, head.seq, head.hash), head.mac)) {
      return headBroken(
        Number.isInteger(head.seq) && head.seq > 0 ? head.seq : lines.length,
        'the chain head (audit-head in the state directory) was rewritten by someone without the audit key (its MAC does not verify)',
      );
    }
  }
  return {
    ok: true,
    records: lines.length,
    ...(last ? { last } : {}),
    warnings,
    ...macNote,
    ...(legacy > 0 ? { legacy } : {}),
  };
}

function broken(records: number, seq: number, reason: string): ChainVerdict {
  return { ok: false, records, broken: { seq, reason }, warnings: [] };
}
