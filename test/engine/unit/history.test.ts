/**
 * `JournalStore.history()` lists archived rotations oldest first by their creation time: ids (and so
 * archive names) carry the second only, with a random suffix, so two rotations in one second must not
 * be ordered by that suffix (a rollback listed before the rotation it undid).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalStore } from '../../../src/engine/journal.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeOwnedDir(d);
});

describe('journal history', () => {
  it('is ordered by creation time to the millisecond, not by the random part of the id', async () => {
    const dir = await makeOwnedDir('rekey-history-', { base: os.tmpdir() });
    dirs.push(dir);
    const store = new JournalStore(dir);
    await fs.mkdir(store.historyDir, { recursive: true });
    const archive = (id: string, createdAt: string) =>
      fs.writeFile(path.join(store.historyDir, `${id}.json`), JSON.stringify({ id, createdAt }));
    // Same second; the suffixes sort the other way round.
    await archive('20261204T100000Z-ffffff', '2026-12-04T10:00:00.100Z');
    await archive('20261204T100000Z-000000', '2026-12-04T10:00:00.900Z');
    await archive('20261204T095959Z-aaaaaa', '2026-12-04T09:59:59.999Z');
    const ids = (await store.history()).map((h) => (h as unknown as { id: string }).id);
    expect(ids).toEqual(['20261204T095959Z-aaaaaa', '20261204T100000Z-ffffff', '20261204T100000Z-000000']);
  });
});
