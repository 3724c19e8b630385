/**
 * vitest's global setup: the CLI tests spawn dist/src/cli/main.js, so dist/ must be built from the
 * sources under test. Runs `npm run build` once per vitest run, unless dist/.build-stamp says dist/
 * was built from exactly these sources (scripts/dist-stamp.mjs: `npm run build` writes it, so CI's
 * own build, or a build just made by hand, is not repeated). A failed build fails the run.
 */
import { spawnSync } from 'node:child_process';
import { ROOT, readStamp, sourceDigest } from '../scripts/dist-stamp.mjs';

export default function setup(): void {
  const digest = sourceDigest();
  if (readStamp() === digest) return;
  process.stderr.write('rekey tests: dist/ is older than the sources; building it (npm run build)\n');
  const started = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    throw new Error(
      `npm run build failed (${r.error ? r.error.message : `exit ${r.status}`}): the tests spawn dist/, which would be stale. Fix the build, then run the tests again.\n${output}`,
    );
  }
  if (readStamp() === undefined) throw new Error('npm run build succeeded but wrote no dist/.build-stamp');
  process.stderr.write(`rekey tests: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
