/**
 * Removing keys from an env file (`rekey migrate --remove-from-env`): each entry's whole lines go
 * (a multi-line quoted value included, with its inline comment); every other byte stays. The result
 * is parsed again and must hold none of the keys and every other entry unchanged.
 */
import { RekeyError } from '../lib/errors.js';
import { type EnvDocument, envValues, parseEnv } from './parse.js';

/**
 * The text of `doc` without the entries of `keys` (every entry of a key set more than once).
 *
 * @example
 * removeKeys(parseEnv('A=1\nB="x\ny" # note\nC=3\n'), ['B']); // 'A=1\nC=3\n'
 */
export function removeKeys(doc: EnvDocument, keys: readonly string[]): string {
  const drop = new Set(keys);
  const { text } = doc;
  const out: string[] = [];
  let skipUntil = -1;
  const starts = new Map<number, number>(); // line → the end of the value of a dropped entry starting on it
  for (const e of doc.entries) if (drop.has(e.key)) starts.set(e.line, e.valueEnd);
  let offset = 0;
  let line = 1;
  for (const chunk of text.split(/(?<=\n)/)) {
    const start = offset;
    offset += chunk.length;
    const here = line++;
    if (start < skipUntil) continue;
    const end = starts.get(here);
    if (end !== undefined) {
      skipUntil = end;
      continue;
    }
    out.push(chunk);
  }
  const result = out.join('');
  const before = envValues(doc);
  const after = envValues(parseEnv(result));
  const kept = [...before].filter(([k]) => !drop.has(k));
  if (
    keys.some((k) => after.has(k)) ||
    after.size !== kept.length ||
    kept.some(([k, v]) => after.get(k) !== v)
  )
    throw new RekeyError(
      'ERR_INTERNAL',
      'removing keys from the env file would change other entries; nothing removed',
    );
  return result;
}
