/**
 * The CLI tests spawn dist/: vitest's global setup (test/global-setup.ts) builds it unless its stamp
 * says it was built from the sources under test. These tests fail when dist/ is stale, and pin what
 * counts as a build input.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInputs, ROOT, readStamp, sourceDigest } from '../../scripts/dist-stamp.mjs';
import { tempDir } from '../helpers/tmp.js';

describe('dist/ under test', () => {
  it('was built from exactly the sources under test (the global setup rebuilt it if not)', () => {
    expect(existsSync(path.join(ROOT, 'dist/src/cli/main.js'))).toBe(true);
    expect(readStamp(), 'dist/.build-stamp does not match the sources: dist/ is stale').toBe(sourceDigest());
  });
});

describe('the build inputs digest', () => {
  const tree = async () => {
    const root = await tempDir('rekey-dist-stamp-');
    await fs.mkdir(path.join(root, 'src/core'), { recursive: true });
    await fs.mkdir(path.join(root, 'bench/results'), { recursive: true });
    await fs.writeFile(path.join(root, 'src/core/a.ts'), 'export const a = 1;\n');
    await fs.writeFile(path.join(root, 'tsconfig.json'), '{}\n');
    return root;
  };

  it('changes when a source is edited, added, removed or renamed, or a tsconfig changes', async () => {
    const root = await tree();
    let before = sourceDigest(root);
    const changed = async (what: string, change: () => Promise<void>) => {
      await change();
      const after = sourceDigest(root);
      expect(after, what).not.toBe(before);
      before = after;
    };
    await changed('edit', () => fs.writeFile(path.join(root, 'src/core/a.ts'), 'export const a = 2;\n'));
    await changed('add', () => fs.writeFile(path.join(root, 'src/b.ts'), 'export const b = 1;\n'));
    await changed('rename', () => fs.rename(path.join(root, 'src/b.ts'), path.join(root, 'src/c.ts')));
    await changed('remove', () => fs.rm(path.join(root, 'src/c.ts')));
    await changed('tsconfig', () => fs.writeFile(path.join(root, 'tsconfig.json'), '{ "x": 1 }\n'));
    await changed('demo', () =>
      fs.mkdir(path.join(root, 'demo')).then(() => fs.writeFile(path.join(root, 'demo/d.ts'), '')),
    );
  });

  it('ignores what tsc does not compile (docs, bench results)', async () => {
    const root = await tree();
    const before = sourceDigest(root);
    await fs.writeFile(path.join(root, 'src/README.md'), '# notes\n');
    await fs.writeFile(path.join(root, 'bench/results/run.ts'), '// a result, not a source\n');
    expect(sourceDigest(root)).toBe(before);
    expect(buildInputs(root)).toEqual(['src/core/a.ts', 'tsconfig.json']);
  });
});
