/** Exclusive creation (whole or not at all, 0600, never over an existing file); stale temp cleanup. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { removeStaleTemps, writeFileExclusive } from '../../src/lib/fsx.js';
import { entries, tempDir } from '../helpers/tmp.js';

describe('writeFileExclusive', () => {
  it('creates the file whole with the mode asked for, and leaves no temp file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'audit.key');
    expect(await writeFileExclusive(file, 'secret bytes')).toBe(true);
    expect(await fs.readFile(file, 'utf8')).toBe('secret bytes');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect(await entries(dir)).toEqual(['audit.key']);
  });

  it('returns false and changes nothing when the file exists', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'marker');
    await fs.writeFile(file, 'first');
    expect(await writeFileExclusive(file, 'second')).toBe(false);
    expect(await fs.readFile(file, 'utf8')).toBe('first');
    expect(await entries(dir)).toEqual(['marker']);
  });

  it('never shows a partial file under its name: the name appears only once the content is synced', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'archive.age');
    const seen: string[] = [];
    const link = fs.link.bind(fs);
    // At the moment the name appears, the content must already be complete.
    const spy = vi.spyOn(fs, 'link').mockImplementation(async (from, to) => {
      seen.push(await fs.readFile(from, 'utf8'));
      await expect(fs.stat(to)).rejects.toThrow();
      return link(from, to);
    });
    try {
      expect(await writeFileExclusive(file, 'x'.repeat(100_000))).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(seen).toEqual(['x'.repeat(100_000)]);
  });

  it('falls back to creating in place where the filesystem has no hard links', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'backup');
    const spy = vi
      .spyOn(fs, 'link')
      .mockRejectedValue(Object.assign(new Error('not supported'), { code: 'EPERM' }));
    try {
      expect(await writeFileExclusive(file, 'content')).toBe(true);
      expect(await writeFileExclusive(file, 'other')).toBe(false);
    } finally {
      spy.mockRestore();
    }
    expect(await fs.readFile(file, 'utf8')).toBe('content');
    expect(await entries(dir)).toEqual(['backup']);
  });
});

describe('removeStaleTemps', () => {
  it('removes the temp files of a name left by a killed write, and nothing else', async () => {
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, '.env.production'), 'A=1\n');
    await fs.writeFile(path.join(dir, '..env.production.rekey-tmp-aaaaaa'), 'A=2\n');
    await fs.writeFile(path.join(dir, '.other.rekey-tmp-bbbbbb'), 'x');
    expect(await removeStaleTemps(dir, '.env.production')).toBe(1);
    expect((await entries(dir)).sort()).toEqual(['.env.production', '.other.rekey-tmp-bbbbbb']);
  });

  it('with a minimum age, leaves young temp files alone (another process may be writing them)', async () => {
    const dir = await tempDir();
    const old = path.join(dir, '.audit-head.rekey-tmp-aaaaaa');
    const young = path.join(dir, '.request.json.rekey-tmp-bbbbbb');
    await fs.writeFile(old, 'x');
    await fs.writeFile(young, 'y');
    const past = new Date(Date.now() - 120_000);
    await fs.utimes(old, past, past);
    expect(await removeStaleTemps(dir, undefined, 60_000)).toBe(1);
    expect(await entries(dir)).toEqual(['.request.json.rekey-tmp-bbbbbb']);
  });
});
