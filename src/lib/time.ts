/** Timestamps in names (backups, rotation ids). */
import { RekeyError } from './errors.js';

/**
 * UTC to the second, `YYYYMMDDTHHMMSSZ`: the stamp of backup names and rotation ids.
 *
 * @example
 * compactUtc(new Date('2026-11-25T10:00:00.999Z')); // '20261125T100000Z'
 */
export function compactUtc(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RekeyError('ERR_INTERNAL', 'compactUtc: invalid date');
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}
