/**
 * The fault points (src/lib/faults.ts) match a step by its typed id or its phase, never by re-splitting
 * the id: a step whose id is not `<phase>:<target>` (a named point, a target key holding `@`) still
 * matches exactly, and `@begin`/`@end` is read from the last `@`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { faultPoint } from '../../src/lib/faults.js';

afterEach(() => {
  delete process.env.REKEY_FAIL_AT;
});

const fails = async (site: Parameters<typeof faultPoint>[0], when: 'begin' | 'end') =>
  faultPoint(site, when).then(
    () => false,
    (e: { code?: string }) => e.code === 'ERR_INJECTED_FAULT',
  );

describe('fault points', () => {
  it('match the step id or its phase, at the given boundary', async () => {
    process.env.REKEY_FAIL_AT = 'stage:REDIS_PASSWORD@begin';
    expect(await fails({ id: 'stage:REDIS_PASSWORD', phase: 'stage' }, 'end')).toBe(false);
    expect(await fails({ id: 'stage:JWT_SECRET', phase: 'stage' }, 'begin')).toBe(false);
    expect(await fails({ id: 'stage:REDIS_PASSWORD', phase: 'stage' }, 'begin')).toBe(true);
  });

  it('match a phase by the step phase, not by a prefix of its id', async () => {
    process.env.REKEY_FAIL_AT = 'invalidate@end';
    // The phase is typed: an id whose prefix is not the phase does not match by accident.
    expect(await fails({ id: 'invalidate-ish', phase: 'verify' }, 'end')).toBe(false);
    expect(await fails({ id: 'invalidate:sessions', phase: 'invalidate' }, 'end')).toBe(true);
  });

  it('default to @end and read the boundary after the last @', async () => {
    process.env.REKEY_FAIL_AT = 'commit';
    expect(await fails('commit', 'begin')).toBe(false);
    expect(await fails('commit', 'end')).toBe(true);
  });
});
