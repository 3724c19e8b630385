/**
 * The only recursive delete of the project: a folder is removed only when it still holds the marker
 * rekey wrote when it created it, naming that very folder. Everything else is refused, nothing lost.
 * A removal killed midway leaves the marker, so it can be done again. (The kill test spawns the built
 * module: `npm run build` first.)
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import {
  isOwnedDir,
  makeOwnedDir,
  makeOwnedDirSync,
  OWNED_MARKER,
  removeOwnedDir,
  removeOwnedDirSync,
} from '../../src/lib/owned-dir.js';
import { anyOf, fillOwnedDir, killWhenGone } from '../helpers/kill-mid-removal.js';
import { record } from '../helpers/resilience.js';

const OWNED_JS = path.resolve(import.meta.dirname, '../../dist/src/lib/owned-dir.js');

/** A private base folder for this file, with a canary beside every folder made in it. */
let base: string;
beforeAll(async () => {
  base = await makeOwnedDir('rekey-owned-test-');
  await fs.writeFile(path.join(base, 'canary'), 'still here\n');
});
afterAll(async () => {
  await removeOwnedDir(base);
});

const refused = async (p: Promise<unknown>) => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRekeyError(error, 'ERR_NOT_OWNED'), String(error)).toBe(true);
};

describe('owned folders', () => {
  it('creates a private folder with its marker, and removes it with everything in it', async () => {
    const dir = await makeOwnedDir('made-', { base });
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    const marker = await fs.readFile(path.join(dir, OWNED_MARKER), 'utf8');
    expect(marker.split('\n').slice(0, 2)).toEqual(['rekey-owned-dir 1', dir]);
    await fs.mkdir(path.join(dir, 'sub'));
    await fs.writeFile(path.join(dir, 'sub', 'file'), 'x');
    // a symbolic link inside pointing out: removed, never followed
    await fs.symlink(path.join(base, 'canary'), path.join(dir, 'link'));
    expect(isOwnedDir(dir)).toBe(true);
    expect(await removeOwnedDir(dir)).toBe(true);
    await expect(fs.stat(dir)).rejects.toThrow();
    expect(await fs.readFile(path.join(base, 'canary'), 'utf8')).toBe('still here\n');
    expect(await removeOwnedDir(dir)).toBe(false); // gone already: fine
  });

  it('has a synchronous twin for exit handlers', () => {
    const dir = makeOwnedDirSync('sync-', { base });
    expect(removeOwnedDirSync(dir)).toBe(true);
    expect(() => removeOwnedDirSync(path.join(base, 'canary'))).toThrow(/not a folder/);
  });

  it('refuses a folder without the marker', async () => {
    const dir = await fs.mkdtemp(path.join(base, 'plain-'));
    await fs.writeFile(path.join(dir, 'data'), 'x');
    await refused(removeOwnedDir(dir));
    expect(() => removeOwnedDirSync(dir)).toThrow(/no \.rekey-owned marker/);
    expect(await fs.readFile(path.join(dir, 'data'), 'utf8')).toBe('x');
  });

  it('refuses a folder whose marker belongs to another folder (a copy or a move)', async () => {
    const owned = await makeOwnedDir('orig-', { base });
    const copy = path.join(base, 'copy');
    await fs.cp(owned, copy, { recursive: true });
    await refused(removeOwnedDir(copy));
    const moved = path.join(base, 'moved');
    await fs.rename(owned, moved);
    await refused(removeOwnedDir(moved));
    expect(isOwnedDir(moved)).toBe(false);
    expect((await fs.readdir(copy)).includes(OWNED_MARKER)).toBe(true);
  });

  it('refuses a symbolic link to a marked folder (and keeps the folder)', async () => {
    const owned = await makeOwnedDir('target-', { base });
    const link = path.join(base, 'link-to-owned');
    await fs.symlink(owned, link);
    await refused(removeOwnedDir(link));
    expect(isOwnedDir(owned)).toBe(true);
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
  });

  it('refuses a marker that is a symbolic link to a real marker', async () => {
    const owned = await makeOwnedDir('real-', { base });
    const dir = await fs.mkdtemp(path.join(base, 'fake-'));
    await fs.symlink(path.join(owned, OWNED_MARKER), path.join(dir, OWNED_MARKER));
    await refused(removeOwnedDir(dir));
  });

  it('refuses the temp folder itself, /, and the home folder, even with a marker naming them', async () => {
    await refused(removeOwnedDir(os.tmpdir()));
    await refused(removeOwnedDir(`${os.tmpdir()}/`));
    await refused(removeOwnedDir('/'));
    await refused(removeOwnedDir(os.homedir()));
    // A marker naming the temp folder, planted in it: still refused (protected list).
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = base;
    try {
      await fs.writeFile(path.join(base, OWNED_MARKER), `rekey-owned-dir 1\n${base}\nx\n`);
      await refused(removeOwnedDir(base));
    } finally {
      process.env.TMPDIR = previous;
      if (previous === undefined) delete process.env.TMPDIR;
      // put back the marker makeOwnedDir wrote, so afterAll can remove the base
      await fs.writeFile(path.join(base, OWNED_MARKER), `rekey-owned-dir 1\n${base}\nrestored\n`);
    }
    expect(await fs.readFile(path.join(base, 'canary'), 'utf8')).toBe('still here\n');
  });

  it('refuses a file, and a prefix that is a path', async () => {
    await refused(removeOwnedDir(path.join(base, 'canary')));
    await expect(makeOwnedDir('../escape-', { base })).rejects.toThrow(/not a file name/);
  });

  it('keeps the marker until everything else is gone: a removal killed (SIGKILL) midway can be done again', async () => {
    const attempts = 12;
    const outside = await fs.mkdtemp(path.join(base, 'outside-'));
    await fs.writeFile(path.join(outside, 'kept'), 'kept\n');
    const intact = async () =>
      (await fs.readFile(path.join(base, 'canary'), 'utf8')) === 'still here\n' &&
      (await fs.readFile(path.join(outside, 'kept'), 'utf8')) === 'kept\n';
    let midway = 0;
    const markerLost: string[] = [];
    let kept = true;
    for (let i = 0; i < attempts; i++) {
      const sync = i % 2 === 1;
      const dir = await makeOwnedDir('killed-', { base });
      const files = await fillOwnedDir(dir);
      // links inside, to the canary beside it and to a folder beside it: removed, never followed
      await fs.symlink(path.join(base, 'canary'), path.join(dir, 'link-to-canary'));
      await fs.symlink(outside, path.join(path.dirname(files[0] as string), 'link-to-folder'));
      const call = sync ? 'removeOwnedDirSync' : 'await removeOwnedDir';
      const script = `import { removeOwnedDir, removeOwnedDirSync } from ${JSON.stringify(OWNED_JS)};
${call}(${JSON.stringify(dir)});`;
      await killWhenGone(process.execPath, ['--input-type=module', '-e', script], anyOf(files));
      if (existsSync(dir)) {
        midway++;
        const left = await fs.readdir(dir);
        if (left.includes(OWNED_MARKER)) await removeOwnedDir(dir);
        // one system call wide: after the marker, before the folder; nothing is left in it then
        else if (left.length === 0) await fs.rmdir(dir);
        else markerLost.push(`${call}: ${left.length} entries left, no marker`);
      }
      kept &&= await intact();
    }
    record({
      kind: 'cleanup',
      suite: 'owned folders',
      case: `removeOwnedDir(Sync) SIGKILLed midway (${midway} of ${attempts} kills): the marker stays, the next removal finishes it`,
      removedOwn: markerLost.length === 0,
      keptOthers: kept,
    });
    expect(markerLost, 'half-removed folders left without their marker').toEqual([]);
    expect(kept, 'the canary and the folder linked from inside survive').toBe(true);
    // the kills must land midway for the test to mean anything (each waits for a random file's removal)
    expect(midway, 'kills that landed mid-removal').toBeGreaterThanOrEqual(3);
  }, 300_000);
});
