/**
 * The baseline column of the tables: the results committed before issue 17's changes (start-up,
 * journal, concurrency), read from git, so a rerun of a benchmark prints its new numbers next to the
 * old ones without anyone copying them by hand.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO } from './stack.js';

const exec = promisify(execFile);

/** The commit whose bench/results are the baseline (the tree before issue 17's work). */
export const BASELINE_COMMIT = '04377d3';

/**
 * `bench/results/<name>.json` as committed at {@link BASELINE_COMMIT}; undefined when git or the file
 * is not there (a copy of the tree without its history).
 *
 * @example
 * const old = await baselineResults<{ results: Array<{ roles: number; wallMs: number }> }>('scale');
 */
export async function baselineResults<T>(name: string): Promise<T | undefined> {
  try {
    const { stdout } = await exec('git', ['show', `${BASELINE_COMMIT}:bench/results/${name}.json`], {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as T;
  } catch {
    return undefined;
  }
}
