/**
 * The Lease's settings in `store: { type: kubernetes, lease: { name, duration } }`: the default name
 * `rekey-<Secret name>` (hashed past 253 characters), and a duration of whole seconds from 5s to 1h.
 */
import { describe, expect, it } from 'vitest';
import { leaseName } from '../../src/cli/stack-lock.js';
import { kubernetesStoreSchema } from '../../src/config/store.js';

const store = (extra: Record<string, unknown> = {}) =>
  kubernetesStoreSchema.safeParse({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets', ...extra });

describe('the kubernetes store Lease settings', () => {
  it('names the Lease after the Secret unless told, and keeps it a valid object name', () => {
    expect(leaseName({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' })).toBe('rekey-bi-secrets');
    expect(
      leaseName({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets', lease: { name: 'bi-lock' } }),
    ).toBe('bi-lock');
    const long = leaseName({ type: 'kubernetes', namespace: 'bi', name: 'a'.repeat(250) });
    expect(long).toMatch(/^rekey-[0-9a-f]{32}$/);
  });

  it('accepts whole seconds from 5s to 1h, and refuses anything else', () => {
    expect(store({ lease: { duration: '30s' } }).success).toBe(true);
    expect(store({ lease: { duration: '1h' } }).success).toBe(true);
    for (const bad of ['2s', '2h', '1500ms', 'soon'])
      expect(store({ lease: { duration: bad } }).success).toBe(false);
    expect(store({ lease: { name: 'Not_A_Name' } }).success).toBe(false);
    expect(store({ lease: { other: 1 } }).success).toBe(false);
  });
});
