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
import { closeSync, constants, fdatasync, promises as fs, fstatSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensurePrivateDir, ioError, writeFileAtomic } from '../lib/fsx.js';
import { type ChangeRecord, frameJson, type SnapshotRecord } from '../lib/record-log.js';

/**
 * A keyed list of the document (the journal's steps, its targets): the field its items are keyed by,
 * and how to tell an item changed without serializing it. `same(item, copy)` compares an item with
 * the `copy` taken when it was last written, field by field; a field holding an object is compared
 * by reference, so such objects must be replaced, never changed in place (as markStep and the
 * engine do). A write compares every item, so both must be cheap.
 */
export interface ListSpec<T extends object = object> {
  key: string;
  copy(item: T): T;
  same(item: T, copy: T): boolean;
}

/** Appended bytes beyond the snapshot after which the next write compacts (also at 4× the snapshot). */
export const COMPACT_AT = 4 * 1024 * 1024;

/** What the file holds as this process last wrote it. */
interface Base {
  ino: number;
  size: number;
  snapshotBytes: number;
  /** Top-level fields but the keyed lists, each as its JSON text. */
  top: Map<string, string>;
  /** Per keyed list: a copy of each item as written, in order, and their keys. */
  lists: Map<string, List>;
}

/** What the writes cost, for tests and the bench. */
export interface WriteStats {
  records: number;
  snapshots: number;
  bytes: number;
  syncs: number;
}

const datasync = promisify(fdatasync);

type Doc = Record<string, unknown>;
interface List {
  copies: object[];
  keys: Set<unknown>;
}
type Lists = Readonly<Record<string, ListSpec<object>>>;

export class JournalLog {
  #base: Base | undefined;
  readonly stats: WriteStats = { records: 0, snapshots: 0, bytes: 0, syncs: 0 };

  constructor(
    readonly file: string,
    readonly lists: Lists,
  ) {}

  /** Forgets what the file holds: the next write is a snapshot (after the file was removed). */
  forget(): void {
    this.#base = undefined;
  }

  /**
   * Durably records `doc`: a change record appended, or a snapshot; nothing when nothing changed.
   * What is written is taken from `doc` before the first await: the caller may change it meanwhile.
   */
  async write(doc: Doc): Promise<void> {
    const base = this.#base;
    if (base === undefined || base.size - base.snapshotBytes > Math.max(COMPACT_AT, 4 * base.snapshotBytes)) {
      return this.#snapshot(doc);
    }
    const change = changes(base, doc, this.lists);
    if (change === 'snapshot') return this.#snapshot(doc);
    if (change === undefined) return;
    const bytes = Buffer.from(frameJson(JSON.stringify(change.record)));
    // open, fstat, write and close are quick local calls, made synchronously (no thread pool round
    // trip each); only the fdatasync, which waits for the disk, is awaited.
    let fd: number;
    try {
      fd = openSync(this.file, constants.O_WRONLY | constants.O_APPEND);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.#snapshot(doc);
      throw ioError('write', this.file, e as NodeJS.ErrnoException);
    }
    let replaced = false;
    try {
      const st = fstatSync(fd);
      replaced = st.ino !== base.ino || st.size !== base.size;
      if (!replaced) {
        // Any failure from here on may leave a torn record: forget the base, so the next write
        // replaces the file by a snapshot rather than appending after it.
        this.#base = undefined;
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
        await datasync(fd);
        change.apply();
        base.size += bytes.length;
        this.#base = base;
        this.stats.records++;
        this.stats.bytes += bytes.length;
        this.stats.syncs++;
      }
    } catch (e) {
      throw ioError('write', this.file, e as NodeJS.ErrnoException);
    } finally {
      try {
        closeSync(fd);
      } catch {
        // the record was made durable (or the error above is the one to report)
      }
    }
    // Someone else wrote the file since (or cut it): replace it by what this process holds.
    if (replaced) await this.#snapshot(doc);
  }

  async #snapshot(doc: Doc): Promise<void> {
    this.#base = undefined;
    const keys = Object.fromEntries(Object.entries(this.lists).map(([k, l]) => [k, l.key]));
    const record: SnapshotRecord = { snapshot: doc, keys };
    const text = frameJson(JSON.stringify(record));
    const base = baseOf(doc, this.lists);
    if (base === undefined) throw new Error('journal: a keyed list is not a list of keyed items');
    await ensurePrivateDir(path.dirname(this.file));
    await writeFileAtomic(this.file, text, { mode: 0o600, forceMode: true });
    const st = await fs.stat(this.file);
    base.ino = st.ino;
    base.size = st.size;
    base.snapshotBytes = st.size;
    this.#base = base;
    this.stats.records++;
    this.stats.snapshots++;
    this.stats.bytes += st.size;
    // The temp file's fsync and the directory's.
    this.stats.syncs += 2;
  }
}

/** The base of a snapshot of `doc` (file fields filled in once written); undefined for a malformed list. */
function baseOf(doc: Doc, lists: Lists): Base | undefined {
  const top = new Map<string, string>();
  const out: Base['lists'] = new Map();
  for (const [k, v] of Object.entries(doc)) {
    if (v === undefined) continue;
    const spec = lists[k];
    if (spec === undefined) {
      top.set(k, JSON.stringify(v));
      continue;
    }
    if (!Array.isArray(v)) return undefined;
    const list: List = { copies: [], keys: new Set() };
    for (const item of v) {
      const id = item?.[spec.key];
      if ((typeof id !== 'string' && typeof id !== 'number') || list.keys.has(id)) return undefined;
      list.keys.add(id);
      list.copies.push(spec.copy(item));
    }
    out.set(k, list);
  }
  for (const k of Object.keys(lists)) if (!out.has(k)) return undefined;
  return { ino: 0, size: 0, snapshotBytes: 0, top, lists: out };
}

/**
 * What changed in `doc` since `base`: a change record, and how to bring the base up to date once it
 * is durable; undefined when nothing changed; 'snapshot' when a change record cannot say it (a list
 * shortened or reordered, an item without a key or with a duplicate key, a list gone or not a list).
 */
function changes(
  base: Base,
  doc: Doc,
  lists: Lists,
): { record: ChangeRecord; apply: () => void } | 'snapshot' | undefined {
  const set: Record<string, unknown> = {};
  const setText = new Map<string, string>();
  const put: Record<string, unknown[]> = {};
  const copies: Array<[List, number, unknown, object]> = [];
  for (const [k, v] of Object.entries(doc)) {
    if (v === undefined) continue;
    const spec = lists[k];
    if (spec !== undefined) {
      const list = base.lists.get(k);
      if (list === undefined || !Array.isArray(v)) return 'snapshot';
      const changed = changedItems(list, v, spec, copies);
      if (changed === 'snapshot') return changed;
      if (changed.length > 0) put[k] = changed;
      continue;
    }
    const text = JSON.stringify(v);
    if (base.top.get(k) !== text) {
      set[k] = v;
      setText.set(k, text);
    }
  }
  for (const k of base.lists.keys()) if (!Array.isArray(doc[k])) return 'snapshot';
  const unset = [...base.top.keys()].filter((k) => doc[k] === undefined);
  const record: ChangeRecord = {
    ...(setText.size > 0 ? { set } : {}),
    ...(unset.length > 0 ? { unset } : {}),
    ...(Object.keys(put).length > 0 ? { put } : {}),
  };
  if (Object.keys(record).length === 0) return undefined;
  return {
    record,
    apply: () => {
      for (const [k, text] of setText) base.top.set(k, text);
      for (const k of unset) base.top.delete(k);
      for (const [list, i, id, copy] of copies) {
        list.copies[i] = copy;
        list.keys.add(id);
      }
    },
  };
}

/**
 * The items of a keyed list changed or added since the base (their copies, taken now, pushed to
 * `copies`); 'snapshot' when a change record cannot say it.
 */
function changedItems(
  list: List,
  now: readonly unknown[],
  spec: ListSpec<object>,
  copies: Array<[List, number, unknown, object]>,
): unknown[] | 'snapshot' {
  const had = list.copies.length;
  if (now.length < had) return 'snapshot';
  const out: unknown[] = [];
  const key = spec.key;
  for (let i = 0; i < had; i++) {
    const item = now[i] as Doc;
    const copy = list.copies[i] as Doc;
    if (item === null || typeof item !== 'object') return 'snapshot';
    if (spec.same(item, copy)) continue;
    // The same key at the same place, or the list was reordered.
    if (item[key] !== copy[key]) return 'snapshot';
    out.push(item);
    copies.push([list, i, item[key], spec.copy(item)]);
  }
  const added = new Set<unknown>();
  for (let i = had; i < now.length; i++) {
    const item = now[i] as Doc | null;
    if (item === null || typeof item !== 'object') return 'snapshot';
    const id = item[key];
    if ((typeof id !== 'string' && typeof id !== 'number') || list.keys.has(id) || added.has(id))
      return 'snapshot';
    added.add(id);
    out.push(item);
    copies.push([list, i, id, spec.copy(item)]);
  }
  return out;
}
