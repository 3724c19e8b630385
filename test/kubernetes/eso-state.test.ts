/**
 * When rekey counts an ExternalSecret as synced after its force-sync (src/lib/kube-eso.ts): ESO's
 * refreshTime has seconds only, so a sync from before the annotation within the same second must not
 * pass (syncedResourceVersion must change too); a SecretSyncedError already there before is stale.
 */
import { describe, expect, it } from 'vitest';
import { dataHash, syncState, targetSecret } from '../../src/lib/kube-eso.js';

const AT = Date.parse('2026-01-01T10:00:00.700Z');
const before = { syncedResourceVersion: '1-aaa', refreshTime: '2026-01-01T09:00:00Z' };
const es = (s: { srv?: string; refresh?: string; status?: string; reason?: string; since?: string }) => ({
  metadata: { name: 'bi-es' },
  status: {
    syncedResourceVersion: s.srv ?? before.syncedResourceVersion,
    refreshTime: s.refresh ?? before.refreshTime,
    conditions: [
      {
        type: 'Ready',
        status: s.status ?? 'True',
        reason: s.reason ?? 'SecretSynced',
        lastTransitionTime: s.since ?? '2026-01-01T09:00:00Z',
      },
    ],
  },
});

describe('syncState', () => {
  it('waits while the controller has not answered the annotation', () => {
    expect(syncState(es({}), before, 'SecretSynced', AT)).toBe('waiting');
    // A periodic sync in the same second, before the annotation: same syncedResourceVersion.
    expect(syncState(es({ refresh: '2026-01-01T10:00:00Z' }), before, 'SecretSynced', AT)).toBe('waiting');
    // A new syncedResourceVersion from an older refresh: not this sync.
    expect(syncState(es({ srv: '1-bbb', refresh: '2026-01-01T09:59:59Z' }), before, 'SecretSynced', AT)).toBe(
      'waiting',
    );
  });

  it('synced: new syncedResourceVersion, refreshTime in or after the annotation second, Ready', () => {
    expect(syncState(es({ srv: '1-bbb', refresh: '2026-01-01T10:00:00Z' }), before, 'SecretSynced', AT)).toBe(
      'synced',
    );
    expect(
      syncState(
        es({ srv: '1-bbb', refresh: '2026-01-01T10:00:01Z', status: 'False', reason: 'SecretSyncedError' }),
        before,
        'SecretSynced',
        AT,
      ),
    ).toBe('failed');
  });

  it('a SecretSyncedError new since the annotation fails; one already there before is stale', () => {
    const error = es({ status: 'False', reason: 'SecretSyncedError', since: '2026-01-01T10:00:00Z' });
    expect(syncState(error, before, 'SecretSynced', AT)).toBe('failed');
    expect(syncState(error, before, 'SecretSyncedError', AT)).toBe('waiting');
  });

  it('the target Secret and a data hash that never shows the data', () => {
    expect(targetSecret({ metadata: { name: 'es' }, spec: { target: { name: 'bi-secrets' } } })).toBe(
      'bi-secrets',
    );
    expect(targetSecret({ metadata: { name: 'es' }, spec: {} })).toBe('es');
    const h = dataHash({ A: 'c2VjcmV0' });
    expect(h).not.toContain('c2VjcmV0');
    expect(h).not.toBe(dataHash({ A: 'b3RoZXI=' }));
    expect(dataHash({ A: '1', B: '2' })).toBe(dataHash({ B: '2', A: '1' }));
  });
});
