import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/lib/duration.js';

describe('durations', () => {
  it('parses units and combinations', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
  });
  it('rejects what is not a duration', () => {
    for (const bad of ['', '90', 'd', '5 m', '1y', '-3d', '3dd']) expect(parseDuration(bad)).toBeUndefined();
  });
  it('formats compactly', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(90 * 86_400_000 + 3_600_000 * 4)).toBe('90d 4h');
    expect(formatDuration(192_000)).toBe('3m 12s');
  });
});
