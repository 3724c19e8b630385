/**
 * The aws-ssm store against the SSM stand-in through the real SDK: one SecureString per key, a put
 * per key with versions journaled, labels moved, a crash between two puts leaving a `partial` store
 * that both a re-run commit and a restore converge from, another writer stopping the commit before
 * any put, throttling retried, and values only in the puts' request bodies.
 */
import { GetParameterHistoryCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { type SsmStandIn, startSsmStandIn } from '../../demo/stand-ins/ssm.js';
import type { StoreChange } from '../../src/engine/ports.js';
import { AwsSsmStore } from '../../src/stores/aws-ssm/store.js';

import { conflictRow } from './helpers.js';

const creds = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const running: SsmStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const OLD = { JWT_SECRET: 'old-jwt-canary-1111', API_KEY: 'old-api-canary-2222' };
const NEW = { JWT_SECRET: 'new-jwt-canary-3333', API_KEY: 'new-api-canary-4444' };
const changes = (v: Record<string, string>): StoreChange[] =>
  Object.entries(v).map(([key, value]) => ({ key, value }));

async function fresh() {
  const ssm = await startSsmStandIn({ region: 'eu-west-1' });
  running.push(ssm);
  const sdk = new SSMClient({ region: 'eu-west-1', endpoint: ssm.url, credentials: creds });
  for (const [k, v] of Object.entries({ ...OLD, DATABASE_HOST: 'db.internal' }))
    await sdk.send(new PutParameterCommand({ Name: `/bi/prod/${k}`, Value: v, Type: 'SecureString' }));
  ssm.clearLog();
  const store = new AwsSsmStore(
    { type: 'aws-ssm', prefix: '/bi/prod/', region: 'eu-west-1', endpoint: ssm.url },
    { credentials: creds },
  );
  return { ssm, sdk, store };
}

async function history(sdk: SSMClient, key: string) {
  const h = await sdk.send(new GetParameterHistoryCommand({ Name: `/bi/prod/${key}`, WithDecryption: true }));
  return (h.Parameters ?? []).map((p) => ({ v: p.Version, value: p.Value, labels: p.Labels }));
}

describe('aws-ssm store', () => {
  it('commits a put per key with versions journaled and labels moved, and restores as new versions', async () => {
    const { ssm, sdk, store } = await fresh();
    await store.check();
    const snap = await store.read();
    expect(Object.fromEntries(snap.values)).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
    const prepared = await store.prepare(snap, changes(NEW), new Date());
    expect(prepared.record).toMatchObject({
      type: 'aws-ssm',
      prefix: '/bi/prod/',
      old: { JWT_SECRET: 1, API_KEY: 1 },
    });
    expect(prepared.summary).toBe('SSM versions kept: JWT_SECRET v1, API_KEY v1');
    const committed = await store.commit(prepared.record, changes(NEW));
    expect(committed.summary).toBe('SSM parameters written: JWT_SECRET v2, API_KEY v2');
    expect(committed.record).toMatchObject({ written: { JWT_SECRET: 2, API_KEY: 2 } });
    expect(await history(sdk, 'JWT_SECRET')).toEqual([
      { v: 1, value: OLD.JWT_SECRET, labels: ['rekey-previous'] },
      { v: 2, value: NEW.JWT_SECRET, labels: ['rekey-current'] },
    ]);
    expect(await store.position(committed.record!, OLD, NEW)).toBe('new');
    expect((await store.commit(committed.record!, changes(NEW))).summary).toBe(
      'already committed (JWT_SECRET v2, API_KEY v2)',
    );

    const restored = await store.restore(committed.record!, [], NEW); // old values from the history
    expect(restored.summary).toBe('old values put back into 2 SSM parameter(s)');
    expect(await history(sdk, 'API_KEY')).toEqual([
      { v: 1, value: OLD.API_KEY, labels: [] },
      { v: 2, value: NEW.API_KEY, labels: ['rekey-previous'] },
      { v: 3, value: OLD.API_KEY, labels: ['rekey-current'] },
    ]);
    expect(await store.position(committed.record!, OLD, NEW)).toBe('old');
    expect((await store.restore(committed.record!, changes(OLD), NEW)).summary).toBe(
      'SSM already holds the old values',
    );

    const carrying = ssm.log().filter((r) => /canary/.test(r.body));
    expect(new Set(carrying.map((r) => r.op))).toEqual(new Set(['PutParameter']));
    expect(carrying.every((r) => r.write)).toBe(true);
  });

  it('converges from a crash between two puts: partial, then a re-run commit or a restore', async () => {
    for (const then of ['commit', 'restore'] as const) {
      const { sdk, store } = await fresh();
      const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
      let puts = 0;
      const crashOnSecond = <T>(_what: string, write: () => Promise<T>) => {
        puts += 1;
        if (puts === 2) return Promise.reject(new Error('killed between two puts'));
        return write();
      };
      await expect(store.commit(prepared.record, changes(NEW), crashOnSecond)).rejects.toThrow('killed');
      expect(await store.position(prepared.record, OLD, NEW)).toBe('partial');
      if (then === 'commit') {
        const again = await store.commit(prepared.record, changes(NEW));
        expect(again.summary).toBe('SSM parameters written: JWT_SECRET v2, API_KEY v2');
        expect(await store.position(prepared.record, OLD, NEW)).toBe('new');
      } else {
        const restored = await store.restore(prepared.record, [], NEW);
        expect(restored.summary).toBe('old values put back into 1 SSM parameter(s)');
        expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
        expect((await history(sdk, 'API_KEY')).map((h) => h.v)).toEqual([1]); // never written
      }
    }
  });

  it('stops before any put when another writer changed a key after preflight', async () => {
    const { ssm, sdk, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    await sdk.send(
      new PutParameterCommand({
        Name: '/bi/prod/API_KEY',
        Value: 'someone-else',
        Type: 'SecureString',
        Overwrite: true,
      }),
    );
    ssm.clearLog();
    expect(
      await conflictRow(
        'aws-ssm store',
        'another writer between preflight and commit',
        store.commit(prepared.record, changes(NEW)),
        async () => (await store.read()).values.get('API_KEY') === 'someone-else',
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect(ssm.log().filter((r) => r.op === 'PutParameter')).toEqual([]);
    expect(await store.position(prepared.record, OLD, NEW)).toBe('other');
    // The rollback that follows: nothing of the rotation is in SSM, so nothing is put back and the
    // other writer's value stays (it used to refuse, leaving the rotation "needs attention").
    expect((await store.restore(prepared.record, changes(OLD), NEW)).summary).toBe(
      "SSM holds none of the rotation's new values: nothing put back (the other writer's kept)",
    );
    expect((await store.read()).values.get('API_KEY')).toBe('someone-else');
    expect(ssm.log().filter((r) => r.op === 'PutParameter' || r.op === 'DeleteParameter')).toEqual([]);
  });

  it('refuses prepare when the parameters changed since they were read', async () => {
    const { sdk, store } = await fresh();
    const snap = await store.read();
    await sdk.send(new PutParameterCommand({ Name: '/bi/prod/NEWCOMER', Value: 'x', Type: 'SecureString' }));
    await expect(store.prepare(snap, changes(NEW), new Date())).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
  });

  it('commits through throttling (retried by the SDK)', async () => {
    const { ssm, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    ssm.faults.add({ kind: 'throttle', op: 'PutParameter', count: 2 });
    expect((await store.commit(prepared.record, changes(NEW))).summary).toBe(
      'SSM parameters written: JWT_SECRET v2, API_KEY v2',
    );
    expect(ssm.log().filter((r) => r.fault === 'throttle')).toHaveLength(2);
  });

  it('commits when the answer to a put is lost (the SDK retries the put; the value is what counts)', async () => {
    const { ssm, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), new Date());
    ssm.faults.add({ kind: 'drop', op: 'PutParameter' });
    await store.commit(prepared.record, changes(NEW));
    expect(await store.position(prepared.record, OLD, NEW)).toBe('new');
    expect(ssm.log().filter((r) => r.fault === 'drop')).toHaveLength(1);
  });

  it('creates a key that did not exist and removes it again on restore', async () => {
    const { sdk, store } = await fresh();
    const next = { JWT_SECRET_PREVIOUS: 'prev-canary-5555' };
    const prepared = await store.prepare(await store.read(), changes(next), new Date());
    expect(prepared.record).toMatchObject({ old: { JWT_SECRET_PREVIOUS: 0 } });
    expect((await store.commit(prepared.record, changes(next))).summary).toBe(
      'SSM parameters written: JWT_SECRET_PREVIOUS v1',
    );
    expect(await store.position(prepared.record, {}, next)).toBe('new');
    await store.restore(prepared.record, [], next);
    expect(await store.position(prepared.record, {}, next)).toBe('old');
    await expect(history(sdk, 'JWT_SECRET_PREVIOUS')).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('empties a key by deleting its parameter (SSM holds no empty value), idempotently, and restores it', async () => {
    // A compromise rotation empties the grace slot: PutParameter would answer ValidationException.
    const { sdk, store } = await fresh();
    const next = { JWT_SECRET: 'new-jwt-canary-6666', API_KEY: '' };
    const prepared = await store.prepare(await store.read(), changes(next), new Date());
    const committed = await store.commit(prepared.record, changes(next));
    expect(committed.summary).toBe('SSM parameters written: JWT_SECRET v2, API_KEY v0');
    await expect(history(sdk, 'API_KEY')).rejects.toMatchObject({ name: 'ParameterNotFound' });
    expect(Object.fromEntries((await store.read()).values)).toEqual({
      JWT_SECRET: next.JWT_SECRET,
      DATABASE_HOST: 'db.internal',
    });
    expect(await store.position(prepared.record, OLD, next)).toBe('new');
    // A re-run after a crash finds the deletion done, not another writer.
    expect((await store.commit(committed.record!, changes(next))).summary).toMatch(/^already committed/);
    // Restore puts the old value back (from the journal: the parameter's history went with it).
    await store.restore(committed.record!, changes(OLD), next);
    expect(await store.position(prepared.record, OLD, next)).toBe('old');
    expect((await history(sdk, 'API_KEY')).map((h) => h.value)).toEqual([OLD.API_KEY]);
  });

  it('fills an empty (absent) key and empties it again on restore', async () => {
    const { sdk, store } = await fresh();
    const refill = { JWT_SECRET_PREVIOUS: 'refill-canary-7777' };
    const empty = { JWT_SECRET_PREVIOUS: '' };
    const prepared = await store.prepare(await store.read(), changes(refill), new Date());
    expect(await store.position(prepared.record, empty, refill)).toBe('old');
    const committed = await store.commit(prepared.record, changes(refill));
    expect(await store.position(committed.record!, empty, refill)).toBe('new');
    await store.restore(committed.record!, changes(empty), refill);
    expect(await store.position(committed.record!, empty, refill)).toBe('old');
    await expect(history(sdk, 'JWT_SECRET_PREVIOUS')).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('reports labels it could not move without failing the commit', async () => {
    const ssm = await startSsmStandIn({
      region: 'eu-west-1',
      deny: { AKIDNOLABEL: ['LabelParameterVersion'] },
    });
    running.push(ssm);
    const sdk = new SSMClient({ region: 'eu-west-1', endpoint: ssm.url, credentials: creds });
    await sdk.send(new PutParameterCommand({ Name: '/x/A', Value: 'a-old', Type: 'SecureString' }));
    const store = new AwsSsmStore(
      { type: 'aws-ssm', prefix: '/x/', region: 'eu-west-1', endpoint: ssm.url },
      { credentials: { accessKeyId: 'AKIDNOLABEL', secretAccessKey: 'x' } },
    );
    const prepared = await store.prepare(await store.read(), [{ key: 'A', value: 'a-new' }], new Date());
    const c = await store.commit(prepared.record, [{ key: 'A', value: 'a-new' }]);
    expect(c.summary).toBe('SSM parameters written: A v2; labels not moved on A');
  });
});
