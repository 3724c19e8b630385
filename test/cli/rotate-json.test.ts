/**
 * `rotate --json` says the trigger the rotation is recorded with: `manual` for a hand rotation
 * without --trigger (as the audit record and status say), the given trigger otherwise.
 */
import { describe, expect, it } from 'vitest';
import { useStacks } from '../engine/stack.js';

const stack = useStacks();

describe('rotate --json trigger', { timeout: 180_000 }, () => {
  it('is manual without --trigger and the given one with it', async () => {
    const s = await stack();
    const hand = await s.run(['rotate', '--only', 'JWT_SECRET', '--yes', '--json']);
    expect(hand.code, hand.stderr).toBe(0);
    expect(JSON.parse(hand.stdout)).toMatchObject({ outcome: 'rotated', trigger: 'manual' });
    const given = await s.run(['rotate', '--only', 'JWT_SECRET', '--trigger', 'release', '--yes', '--json']);
    expect(given.code, given.stderr).toBe(0);
    expect(JSON.parse(given.stdout)).toMatchObject({ outcome: 'rotated', trigger: 'release' });
  });
});
