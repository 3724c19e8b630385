/**
 * The journal file as an append-only log (format version 3, src/lib/record-log.ts): the first
 * record a process writes is a snapshot of the whole journal, written atomically (temp file, fsync,
 * rename, fsync of the directory); every later write appends one record holding only what changed
 * since the last record this process wrote (top-level fields, and steps and targets by id and key),
 * made durable by one fdatasync. A rotation of 1000 targets appends ~300 bytes a step instead of
 * rewriting a megabyte.
 *
 * A snapshot is written instead of a change whenever the file may not be what this process last
 * wrote (its first write, a file replaced, grown or cut by anyone else, a failed append that may
 * have left a torn record), when steps or targets were removed or reordered, and when the log has
 * grown past {@link COMPACT_AT} beyond its snapshot (compaction).
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, ioError, writeFileAtomic } from '../lib/fsx.js';
import { type ChangeRecord, frameJson, type SnapshotRecord } from '../lib/record-log.js';

/** The keyed lists of a journal and the field their items are keyed by. */
export const JOURNAL_KEYS: Readonly<Record<string, string>> = { steps: 'id', targets: 'key' };

/** Appended bytes beyond the snapshot after which the next write compacts (also at 4× the snapshot). */
export const COMPACT_AT = 4 * 1024 * 1024;

/** What the file holds as this process last wrote it: the fold of its records, as JSON values. */
interface Base {
  ino: number;
  size: number;
  snapshotBytes: number;
  /** Top-level fields but the keyed lists, each as its JSON text. */
  top: Map<string, string>;
  /** Per keyed list: the keys in order, and each item as a JSON value. */
  lists: Map<string, { order: unknown[]; items: Map<unknown, unknown> }>;
}

/** What a write did, for tests and the bench. */
export interface WriteStats {
  records: number;
  snapshots: number;
  bytes: number;
  syncs: number;
}

type Doc = Record<string, unknown>;

export class JournalLog {
  #base: Base | undefined;
  readonly stats: WriteStats = { records: 0, snapshots: 0, bytes: 0, syncs: 0 };

  constructor(readonly file: string) {}

  /** Forgets what the file holds: the next write is a snapshot (after the file was removed). */
  forget(): void {
    this.#base = undefined;
  }

  /** Durably records `doc`: a change record appended, or a snapshot; nothing when nothing changed. */
  async write(doc: Doc): Promise<void> {
    const base = this.#base;
    if (base === undefined || base.size - base.snapshotBytes > Math.max(COMPACT_AT, 4 * base.snapshotBytes)) {
      return this.#snapshot(doc);
    }
    const change = changes(base, doc);
    if (change === 'snapshot') return this.#snapshot(doc);
    if (change === undefined) return;
    // Serialized now: the engine may change the journal while this write waits for the disk, and
    // the base must hold what was written, not what the object became.
    const json = JSON.stringify(change);
    const bytes = Buffer.from(frameJson(json));
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.file, constants.O_WRONLY | constants.O_APPEND);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.#snapshot(doc);
      throw ioError('write', this.file, e as NodeJS.ErrnoException);
    }
    let replaced = false;
    try {
      const st = await handle.stat();
      replaced = st.ino !== base.ino || st.size !== base.size;
      if (!replaced) {
        // Any failure from here on may leave a torn record: forget the base, so the next write
        // replaces the file by a snapshot rather than appending after it.
        this.#base = undefined;
        await handle.writeFile(bytes);
        await handle.datasync();
        applyChange(base, JSON.parse(json) as ChangeRecord);
        base.size += bytes.length;
        this.#base = base;
        this.stats.records++;
        this.stats.bytes += bytes.length;
        this.stats.syncs++;
      }
    } catch (e) {
      throw ioError('write', this.file, e as NodeJS.ErrnoException);
    } finally {
      await handle.close().catch(() => {});
    }
    if (replaced) await this.#snapshot(doc);
  }

  async #snapshot(doc: Doc): Promise<void> {
    this.#base = undefined;
    const record: SnapshotRecord = { snapshot: doc, keys: { ...JOURNAL_KEYS } };
    const json = JSON.stringify(record);
    await ensurePrivateDir(path.dirname(this.file));
    await writeFileAtomic(this.file, frameJson(json), { mode: 0o600, forceMode: true });
    const st = await fs.stat(this.file);
    this.#base = baseOf((JSON.parse(json) as SnapshotRecord).snapshot, st.ino, st.size);
    this.stats.records++;
    this.stats.snapshots++;
    this.stats.bytes += st.size;
    // The temp file's fsync and the directory's.
    this.stats.syncs += 2;
  }
}

function baseOf(doc: Doc, ino: number, size: number): Base {
  const top = new Map<string, string>();
  const lists: Base['lists'] = new Map();
  for (const [k, v] of Object.entries(doc)) {
    const key = JOURNAL_KEYS[k];
    if (key !== undefined && Array.isArray(v)) {
      const order = v.map((item) => (item as Doc)[key]);
      lists.set(k, { order, items: new Map(v.map((item, i) => [order[i], item])) });
    } else top.set(k, JSON.stringify(v));
  }
  return { ino, size, snapshotBytes: size, top, lists };
}

/**
 * What changed in `doc` since `base`, as a change record; undefined when nothing changed; 'snapshot'
 * when a change record cannot say it (a list shortened or reordered, an item without a key or with a
 * duplicate key, a list appearing or going).
 */
function changes(base: Base, doc: Doc): ChangeRecord | 'snapshot' | undefined {
  const set: Record<string, unknown> = {};
  const put: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (v === undefined) continue;
    const key = JOURNAL_KEYS[k];
    if (key !== undefined) {
      const list = base.lists.get(k);
      if (list === undefined || !Array.isArray(v)) return 'snapshot';
      const changed = changedItems(list, v, key);
      if (changed === 'snapshot') return changed;
      if (changed.length > 0) put[k] = changed;
    } else if (base.top.get(k) !== JSON.stringify(v)) set[k] = v;
  }
  for (const k of base.lists.keys()) if (doc[k] === undefined) return 'snapshot';
  const unset = [...base.top.keys()].filter((k) => doc[k] === undefined);
  const record: ChangeRecord = {
    ...(Object.keys(set).length > 0 ? { set } : {}),
    ...(unset.length > 0 ? { unset } : {}),
    ...(Object.keys(put).length > 0 ? { put } : {}),
  };
  return Object.keys(record).length === 0 ? undefined : record;
}

/** Brings the base up to date with a change record once it is durable (`c` parsed from what was written). */
function applyChange(base: Base, c: ChangeRecord): void {
  for (const [k, v] of Object.entries(c.set ?? {})) base.top.set(k, JSON.stringify(v));
  for (const k of c.unset ?? []) base.top.delete(k);
  for (const [field, items] of Object.entries(c.put ?? {})) {
    const list = base.lists.get(field);
    const key = JOURNAL_KEYS[field] as string;
    if (list === undefined) continue;
    for (const item of items) {
      const id = (item as Doc)[key];
      if (!list.items.has(id)) list.order.push(id);
      list.items.set(id, item);
    }
  }
}

/** The items of a keyed list changed or added since the base; 'snapshot' when a record cannot say it. */
function changedItems(
  list: { order: unknown[]; items: Map<unknown, unknown> },
  now: readonly unknown[],
  key: string,
): unknown[] | 'snapshot' {
  if (now.length < list.order.length) return 'snapshot';
  const out: unknown[] = [];
  const added = new Set<unknown>();
  for (let i = 0; i < now.length; i++) {
    const item = now[i];
    if (item === null || typeof item !== 'object') return 'snapshot';
    const id = (item as Doc)[key];
    if (typeof id !== 'string' && typeof id !== 'number') return 'snapshot';
    if (i < list.order.length) {
      if (id !== list.order[i]) return 'snapshot';
      if (!sameJson(item, list.items.get(id))) out.push(item);
    } else {
      if (list.items.has(id) || added.has(id)) return 'snapshot';
      added.add(id);
      out.push(item);
    }
  }
  return out;
}

/**
 * Whether `a` serializes to the JSON value `b` (b parsed from JSON: no undefined, no class
 * instances). Undefined properties of `a` are skipped, as JSON.stringify skips them.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype) return false;
  let n = 0;
  for (const k in a) {
    const v = (a as Doc)[k];
    if (v === undefined) continue;
    n++;
    if (!sameJson(v, (b as Doc)[k])) return false;
  }
  let m = 0;
  for (const _ in b) m++;
  return n === m;
}
