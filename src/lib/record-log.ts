/**
 * An append-only log of JSON records (the rotation journal's file format since version 3). Each
 * record is one line framed so a torn append is told from damage:
 *
 *     <bytes> <check> <json>\n
 *
 * `bytes` is the UTF-8 length of `json` in decimal, `check` the first 16 hex digits of its SHA-256.
 * Records are appended one at a time by a single writer, each made durable before the next is begun,
 * so only the LAST record can be torn by a crash; a bad record followed by a good one is damage.
 *
 * The state is the fold of the records: the first is a snapshot `{ "snapshot": {...}, "keys": {...} }`
 * (`keys` names, per array field, the field its items are keyed by), each later one a change
 * `{ "set": {...}, "unset": [...], "put": { <array>: [items] } }`: top-level fields replaced or
 * removed, array items replaced by key in place or appended. Nothing here knows what the journal holds.
 */
import { createHash } from 'node:crypto';

/** A snapshot record: the whole document, and the key field of each of its keyed arrays. */
export interface SnapshotRecord {
  snapshot: Record<string, unknown>;
  keys: Record<string, string>;
}

/** A change record: what changed since the previous record (absent parts unchanged). */
export interface ChangeRecord {
  set?: Record<string, unknown>;
  unset?: string[];
  put?: Record<string, unknown[]>;
}

/** Where a log is damaged: a bad record that is not the last (1-based, and its byte offset). */
export interface LogDamage {
  record: number;
  offset: number;
  reason: string;
}

export interface ParsedLog {
  /** The good records, in order. */
  records: unknown[];
  /** Bytes of the good records (where a torn tail begins). */
  goodBytes: number;
  /** Bytes of a torn last record, ignored (0 when none). */
  tornBytes: number;
  damage?: LogDamage;
}

const CHECK_HEX = 16;
const SPACE = 0x20;
const NEWLINE = 0x0a;

function check(json: Buffer | string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, CHECK_HEX);
}

/**
 * One framed record, ready to append.
 *
 * @example
 * frameRecord({ set: { status: 'rolling-back' } }); // '33 3f1c… {"set":{"status":"rolling-back"}}\n'
 */
export function frameRecord(value: unknown): string {
  return frameJson(JSON.stringify(value));
}

/** {@link frameRecord} of a record already serialized (one JSON text, no newline). */
export function frameJson(json: string): string {
  return `${Buffer.byteLength(json)} ${check(json)} ${json}\n`;
}

type Framed = { ok: true; end: number; json: Buffer } | { ok: false; reason: string };

/** The record framed at `at`: good, or bad (cut short, or not what was written). */
function frameAt(buf: Buffer, at: number): Framed {
  const sp1 = buf.indexOf(SPACE, at);
  const digits = buf.subarray(at, sp1 === -1 ? buf.length : sp1).toString('latin1');
  if (sp1 === -1 || !/^[0-9]{1,12}$/.test(digits)) return { ok: false, reason: 'no record length' };
  const start = sp1 + 1 + CHECK_HEX + 1;
  if (start > buf.length) return { ok: false, reason: 'cut short' };
  const hex = buf.subarray(sp1 + 1, sp1 + 1 + CHECK_HEX).toString('latin1');
  if (!/^[0-9a-f]+$/.test(hex) || buf[start - 1] !== SPACE) return { ok: false, reason: 'no checksum' };
  const end = start + Number(digits);
  if (end + 1 > buf.length) return { ok: false, reason: 'cut short' };
  const json = buf.subarray(start, end);
  if (buf[end] !== NEWLINE) return { ok: false, reason: 'no end of record' };
  if (check(json) !== hex) return { ok: false, reason: 'checksum mismatch' };
  return { ok: true, end: end + 1, json };
}

/** Whether a good record starts at any line start after `from` (then a bad record before it is damage). */
function goodRecordAfter(buf: Buffer, from: number): boolean {
  for (
    let nl = buf.indexOf(NEWLINE, from);
    nl !== -1 && nl + 1 < buf.length;
    nl = buf.indexOf(NEWLINE, nl + 1)
  ) {
    if (frameAt(buf, nl + 1).ok) return true;
  }
  return false;
}

/**
 * The records of a log. A last record cut short or failing its checksum (a crash mid-append: it was
 * never acknowledged) is left out and counted in `tornBytes`; a bad record followed by a good one
 * is `damage`, and parsing stops there. `reviver` is given to JSON.parse for every record.
 *
 * @example
 * const { records, damage } = parseLog(await fs.readFile(file));
 */
export function parseLog(buf: Buffer, reviver?: (key: string, value: unknown) => unknown): ParsedLog {
  const records: unknown[] = [];
  let at = 0;
  while (at < buf.length) {
    const f = frameAt(buf, at);
    if (!f.ok) {
      if (goodRecordAfter(buf, at)) {
        return {
          records,
          goodBytes: at,
          tornBytes: 0,
          damage: { record: records.length + 1, offset: at, reason: f.reason },
        };
      }
      return { records, goodBytes: at, tornBytes: buf.length - at };
    }
    try {
      records.push(JSON.parse(f.json.toString('utf8'), reviver as Parameters<typeof JSON.parse>[1]));
    } catch {
      // Its checksum matched: these bytes were written whole (by something else), so no torn append.
      if (!goodRecordAfter(buf, at)) return { records, goodBytes: at, tornBytes: buf.length - at };
      return {
        records,
        goodBytes: at,
        tornBytes: 0,
        damage: { record: records.length + 1, offset: at, reason: 'not JSON' },
      };
    }
    at = f.end;
  }
  return { records, goodBytes: at, tornBytes: 0 };
}

/**
 * The document a log's records fold to; a string saying why when they do not fold (the first is
 * not a snapshot, a record is not a change).
 *
 * @example
 * foldRecords(parseLog(buf).records); // { id: '…', steps: [...], ... }
 */
export function foldRecords(records: readonly unknown[]): Record<string, unknown> | string {
  let doc: Record<string, unknown> | undefined;
  let keys: Record<string, string> = {};
  const index = new Map<string, Map<unknown, number>>();
  const indexOf = (field: string, items: unknown[]): Map<unknown, number> => {
    let m = index.get(field);
    if (m === undefined) {
      const key = keys[field] ?? '';
      m = new Map(items.map((item, i) => [(item as Record<string, unknown>)?.[key], i]));
      index.set(field, m);
    }
    return m;
  };
  for (const [i, r] of records.entries()) {
    if (!isObject(r)) return `record ${i + 1} is not an object`;
    if ('snapshot' in r) {
      if (!isObject(r.snapshot) || !isObject(r.keys)) return `record ${i + 1} is a malformed snapshot`;
      doc = r.snapshot;
      keys = r.keys as Record<string, string>;
      index.clear();
      continue;
    }
    if (doc === undefined) return 'the first record is not a snapshot';
    const c = r as ChangeRecord;
    if (c.set !== undefined) {
      if (!isObject(c.set)) return `record ${i + 1}: malformed set`;
      for (const [k, v] of Object.entries(c.set)) {
        doc[k] = v;
        index.delete(k);
      }
    }
    if (c.unset !== undefined) {
      if (!Array.isArray(c.unset)) return `record ${i + 1}: malformed unset`;
      for (const k of c.unset) {
        delete doc[String(k)];
        index.delete(String(k));
      }
    }
    if (c.put !== undefined) {
      if (!isObject(c.put)) return `record ${i + 1}: malformed put`;
      for (const [field, items] of Object.entries(c.put)) {
        const list = doc[field];
        const key = keys[field];
        if (!Array.isArray(list) || !Array.isArray(items) || key === undefined)
          return `record ${i + 1}: put into ${field}, which is no keyed list`;
        const m = indexOf(field, list);
        for (const item of items) {
          const id = (item as Record<string, unknown>)?.[key];
          const at = m.get(id);
          if (at === undefined) {
            m.set(id, list.length);
            list.push(item);
          } else list[at] = item;
        }
      }
    }
  }
  return doc ?? 'no records';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
