/** Writing a benchmark's results: `bench/results/<name>.json` and `bench/results/<name>.md`. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results in the source tree (this file runs from dist/bench). */
export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/results');

/**
 * A markdown table; numbers are printed as given (round them first).
 *
 * @example
 * table(['method', 'ms'], [['rekey', 812]]);
 */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (c: string | number) => String(c).replace(/\|/g, '\\|');
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Writes `<name>.json` (the data, pretty-printed) and `<name>.md` into `dir` (default bench/results);
 * returns their paths.
 *
 * @example
 * await writeResults('rotate', data, markdown);
 */
export async function writeResults(
  name: string,
  data: unknown,
  markdown: string,
  dir: string = RESULTS_DIR,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, `${name}.json`);
  const md = path.join(dir, `${name}.md`);
  await writeFile(json, `${JSON.stringify(data, null, 2)}\n`);
  await writeFile(md, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return [json, md];
}

/** Progress on stderr. */
export const say = (line: string) => process.stderr.write(`${line}\n`);
