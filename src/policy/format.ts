/** Ages and durations for people: whole days from one day on (`95d`), finer below (`3h 12m`). */
import { formatDuration } from '../lib/duration.js';

const DAY = 86_400_000;

/**
 * @example
 * humanDuration(95.4 * 86_400_000); // '95d'
 * humanDuration(200_000); // '3m 20s'
 */
export function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < DAY) return formatDuration(ms);
  return `${ms < 0 ? '-' : ''}${Math.floor(abs / DAY)}d`;
}
