/**
 * The playbook's `# LastSecretRotation: <when>` comment line, read and written in place.
 */
import { RekeyError } from '../lib/errors.js';
import type { EnvDocument } from './parse.js';

export const ANNOTATION_PREFIX = '# LastSecretRotation:';

/** Where one annotation line sits: `start` of the line, `end` before its line ending. */
export interface AnnotationLine {
  start: number;
  end: number;
}

/**
 * The annotation line for `d`: ISO-8601 UTC, seconds precision.
 *
 * @example
 * formatAnnotation(new Date('2026-11-25T10:00:00.123Z')); // '# LastSecretRotation: 2026-11-25T10:00:00Z'
 */
export function formatAnnotation(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RekeyError('ERR_INTERNAL', 'annotation: invalid date');
  return `${ANNOTATION_PREFIX} ${d.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/**
 * Every comment line starting (at its first column) with {@link ANNOTATION_PREFIX}, in order. A line
 * inside a multi-line quoted value is part of that value, not an annotation.
 *
 * @example
 * findAnnotationLines(parseEnv('# LastSecretRotation: 2026-01-01T00:00:00Z\nA=1\n')); // [{ start: 0, end: 42 }]
 */
export function findAnnotationLines(doc: EnvDocument): AnnotationLine[] {
  const { text } = doc;
  const first = doc.bom ? 1 : 0;
  const out: AnnotationLine[] = [];
  for (let i = text.indexOf(ANNOTATION_PREFIX, first); i >= 0; i = text.indexOf(ANNOTATION_PREFIX, i + 1)) {
    if (i !== first && text[i - 1] !== '\n') continue;
    if (doc.entries.some((e) => e.valueStart < i && i < e.valueEnd)) continue;
    const nl = text.indexOf('\n', i);
    let end = nl < 0 ? text.length : nl;
    if (end > i && text[end - 1] === '\r') end--;
    out.push({ start: i, end });
  }
  return out;
}

const WHEN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * The time of the last rotation, from the first annotation line holding a valid ISO-8601 date (a
 * date alone, or a time without zone, is read as UTC). Undefined when there is none.
 *
 * @example
 * readAnnotation(parseEnv('# LastSecretRotation: 2026-11-25T10:00:00Z\n')); // 2026-11-25T10:00:00.000Z
 */
export function readAnnotation(doc: EnvDocument): Date | undefined {
  for (const { start, end } of findAnnotationLines(doc)) {
    const when = doc.text.slice(start + ANNOTATION_PREFIX.length, end).trim();
    const m = WHEN.exec(when);
    if (m === null) continue;
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
    const fields = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
    const utc = new Date(Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]));
    const back = [
      utc.getUTCFullYear(),
      utc.getUTCMonth() + 1,
      utc.getUTCDate(),
      utc.getUTCHours(),
      utc.getUTCMinutes(),
      utc.getUTCSeconds(),
    ];
    if (back.some((v, i) => v !== fields[i])) continue; // 2026-02-31 would roll over to March
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    const offsetMin = z === null ? 0 : (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
    return new Date(utc.getTime() + Math.round(Number(frac || '0') * 1000) - offsetMin * 60_000);
  }
  return undefined;
}
