/**
 * A value computed from a file, kept while the file is unchanged: `rekey serve` reads each backup's
 * annotation once, not at every scrape. "Unchanged" is judged from `stat` alone (device, inode, size,
 * modification and change times), so a check reads nothing of the file.
 */
import { promises as fs, type Stats } from 'node:fs';

/** What identifies a file's content without reading it. */
export function statKey(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/**
 * Per file, the last value computed and the stat key it was computed at.
 *
 * @example
 * const dates = new FileCache<Date | undefined>();
 * await dates.get(backup, readAnnotationOnly); // reads the file
 * await dates.get(backup, readAnnotationOnly); // unchanged: reads nothing
 */
export class FileCache<T> {
  readonly #entries = new Map<string, { key: string; value: T }>();

  /** The value for `file`, computed by `compute` when the file is new or changed. Throws stat's error (ENOENT...). */
  async get(file: string, compute: (file: string) => Promise<T>): Promise<T> {
    let key: string;
    try {
      key = statKey(await fs.stat(file));
    } catch (e) {
      this.#entries.delete(file);
      throw e;
    }
    const hit = this.#entries.get(file);
    if (hit !== undefined && hit.key === key) return hit.value;
    // The key is taken before the read: a change during it makes the next call read again.
    const value = await compute(file);
    this.#entries.set(file, { key, value });
    return value;
  }

  /** The values held, for tests and inspection. */
  values(): T[] {
    return [...this.#entries.values()].map((e) => e.value);
  }
}
