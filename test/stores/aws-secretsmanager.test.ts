/**
 * The aws-secretsmanager store against the Secrets Manager stand-in through the real SDK: AWSPENDING
 * staged under the rotation's token, AWSCURRENT moved with RemoveFromVersionId (the compare-and-set),
 * a crash between the two converging, another writer stopping the commit (before or inside the move),
 * a stale AWSPENDING recognised by its token, throttling retried, values only in the writes.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type SecretsManagerStandIn,
  startSecretsManagerStandIn,
} from '../../demo/stand-ins/secrets-manager.js';
import type { StoreChange } from '../../src/engine/ports.js';
import { AwsSecretsManagerStore, rotationToken } from '../../src/stores/aws-secretsmanager/store.js';

import { conflictRow } from './helpers.js';

const creds = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const running: SecretsManagerStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const OLD = { JWT_SECRET: 'old-jwt-canary-1111', API_KEY: 'old-api-canary-2222' };
const NEW = { JWT_SECRET: 'new-jwt-canary-3333', API_KEY: 'new-api-canary-4444' };
const changes = (v: Record<string, string>): StoreChange[] =>
  Object.entries(v).map(([key, value]) => ({ key, value }));
const AT = new Date('2026-12-04T12:00:00.000Z');

async function fresh() {
  const sm = await startSecretsManagerStandIn({ region: 'eu-west-1' });
  running.push(sm);
  const sdk = new SecretsManagerClient({ region: 'eu-west-1', endpoint: sm.url, credentials: creds });
  const created = await sdk.send(
    new CreateSecretCommand({
      Name: 'bi/production',
      SecretString: JSON.stringify({ ...OLD, DATABASE_HOST: 'db.internal' }),
    }),
  );
  sm.clearLog();
  const store = new AwsSecretsManagerStore(
    { type: 'aws-secretsmanager', secretId: 'bi/production', region: 'eu-west-1', endpoint: sm.url },
    { credentials: creds },
  );
  return { sm, sdk, store, first: created.VersionId ?? '' };
}

async function stages(sdk: SecretsManagerClient) {
  return (await sdk.send(new DescribeSecretCommand({ SecretId: 'bi/production' }))).VersionIdsToStages;
}
async function current(sdk: SecretsManagerClient) {
  const v = await sdk.send(new GetSecretValueCommand({ SecretId: 'bi/production' }));
  return JSON.parse(v.SecretString ?? '{}') as Record<string, string>;
}

describe('aws-secretsmanager store', () => {
  it('derives a valid, recognisable rotation token from the record', () => {
    const t = rotationToken('bi/production', 'v-1', AT);
    expect(t).toMatch(/^rekey-20261204T120000Z-[0-9a-f]{24}$/);
    expect(t.length).toBeGreaterThanOrEqual(32);
    expect(t.length).toBeLessThanOrEqual(64);
    expect(rotationToken('bi/production', 'v-1', AT)).toBe(t);
    expect(rotationToken('bi/production', 'v-2', AT)).not.toBe(t);
  });

  it('stages AWSPENDING, moves AWSCURRENT (other fields kept), and moves it back on restore', async () => {
    const { sm, sdk, store, first } = await fresh();
    await store.check();
    const snap = await store.read();
    expect(snap.version).toBe(first);
    const prepared = await store.prepare(snap, changes(NEW), AT);
    const token = rotationToken('bi/production', first, AT);
    expect(prepared.record).toEqual({
      type: 'aws-secretsmanager',
      region: 'eu-west-1',
      secretId: 'bi/production',
      version: first,
      token,
    });
    const committed = await store.commit(prepared.record, changes(NEW));
    expect(committed.summary).toBe(`AWSCURRENT moved to ${token} (AWSPREVIOUS: ${first})`);
    expect(await stages(sdk)).toEqual({ [first]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
    expect(await current(sdk)).toEqual({ ...NEW, DATABASE_HOST: 'db.internal' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('new');
    expect((await store.commit(prepared.record, changes(NEW))).summary).toBe(
      `already committed (AWSCURRENT is ${token})`,
    );

    expect((await store.restore(prepared.record, [], NEW)).summary).toBe(`AWSCURRENT moved back to ${first}`);
    expect(await stages(sdk)).toEqual({ [first]: ['AWSCURRENT'], [token]: ['AWSPREVIOUS'] });
    expect(await current(sdk)).toEqual({ ...OLD, DATABASE_HOST: 'db.internal' });
    expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
    expect((await store.restore(prepared.record, [], NEW)).summary).toMatch(/already holds the old values/);

    const carrying = sm.log().filter((r) => /canary/.test(r.body));
    expect(carrying.map((r) => r.op)).toEqual(['PutSecretValue']);
  });

  it('converges from a crash between staging and the move: re-commit, or restore dropping AWSPENDING', async () => {
    for (const then of ['commit', 'restore'] as const) {
      const { sdk, store, first } = await fresh();
      const prepared = await store.prepare(await store.read(), changes(NEW), AT);
      const token = String(prepared.record.token);
      const crashAtMove = <T>(what: string, write: () => Promise<T>) =>
        what === 'moving AWSCURRENT' ? Promise.reject(new Error('killed before the move')) : write();
      await expect(store.commit(prepared.record, changes(NEW), crashAtMove)).rejects.toThrow('killed');
      expect(await stages(sdk)).toEqual({ [first]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
      expect(await store.position(prepared.record, OLD, NEW)).toBe('old');
      if (then === 'commit') {
        await store.commit(prepared.record, changes(NEW)); // same token, same value: accepted
        expect(await store.position(prepared.record, OLD, NEW)).toBe('new');
      } else {
        await store.restore(prepared.record, [], NEW);
        expect(await stages(sdk)).toEqual({ [first]: ['AWSCURRENT'] });
      }
    }
  });

  it('fails the commit when another writer moved AWSCURRENT after preflight, touching nothing', async () => {
    const { sdk, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), AT);
    const other = await sdk.send(
      new PutSecretValueCommand({ SecretId: 'bi/production', SecretString: '{"JWT_SECRET":"theirs"}' }),
    );
    expect(
      await conflictRow(
        'aws-secretsmanager store',
        'another writer between preflight and commit',
        store.commit(prepared.record, changes(NEW)),
        async () => (await stages(sdk))?.[other.VersionId ?? '']?.includes('AWSCURRENT') === true,
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await stages(sdk))?.[other.VersionId ?? '']).toEqual(['AWSCURRENT']);
    expect(await store.position(prepared.record, OLD, NEW)).toBe('other');
    // The rollback that follows keeps the other writer's version current (it used to refuse, leaving
    // the rotation "needs attention"); only the rotation's own AWSPENDING would be dropped.
    expect((await store.restore(prepared.record, changes(OLD), NEW)).summary).toMatch(
      /holds none of the rotation's new values/,
    );
    expect((await stages(sdk))?.[other.VersionId ?? '']).toEqual(['AWSCURRENT']);
  });

  it('loses the race inside Secrets Manager cleanly: the move is refused when AWSCURRENT moved after staging', async () => {
    const { sdk, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), AT);
    let theirs = '';
    const raceAtMove = async <T>(what: string, write: () => Promise<T>) => {
      if (what === 'moving AWSCURRENT') {
        const other = await sdk.send(
          new PutSecretValueCommand({ SecretId: 'bi/production', SecretString: '{"JWT_SECRET":"theirs"}' }),
        );
        theirs = other.VersionId ?? '';
      }
      return write();
    };
    expect(
      await conflictRow(
        'aws-secretsmanager store',
        'another writer between AWSPENDING and the AWSCURRENT move',
        store.commit(prepared.record, changes(NEW), raceAtMove),
        async () => (await current(sdk)).JWT_SECRET === 'theirs',
      ),
    ).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await stages(sdk))?.[theirs]).toEqual(['AWSCURRENT']);
    expect(await current(sdk)).toEqual({ JWT_SECRET: 'theirs' });
  });

  it('stops preflight on an AWSPENDING staged by another tool; names a stale one of rekey in prepare', async () => {
    const { sdk, store, first } = await fresh();
    await sdk.send(
      new PutSecretValueCommand({
        SecretId: 'bi/production',
        ClientRequestToken: 'lambda-rotation-00000000-0000-0000-0000-000000000001',
        SecretString: '{}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    await expect(store.check()).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
      message: expect.stringMatching(/another tool/),
    });

    const stale = rotationToken('bi/production', first, new Date('2026-12-01T00:00:00Z'));
    await sdk.send(
      new PutSecretValueCommand({
        SecretId: 'bi/production',
        ClientRequestToken: stale,
        SecretString: '{"JWT_SECRET":"x"}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    await expect(store.check()).resolves.toBeUndefined();
    const prepared = await store.prepare(await store.read(), changes(NEW), AT);
    expect(prepared.summary).toContain(`a stale AWSPENDING (${stale})`);
    await store.commit(prepared.record, changes(NEW));
    const after = await stages(sdk);
    expect(Object.values(after ?? {}).flat()).not.toContain('AWSPENDING');
  });

  it('commits through throttling (retried by the SDK)', async () => {
    const { sm, store } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), AT);
    sm.faults.add({ kind: 'throttle', op: 'PutSecretValue' });
    sm.faults.add({ kind: 'error500', op: 'UpdateSecretVersionStage' });
    expect((await store.commit(prepared.record, changes(NEW))).summary).toMatch(
      /^AWSCURRENT moved to rekey-/,
    );
  });

  it('commits when the answers to the stage and the move are lost (the SDK retries; both calls are idempotent)', async () => {
    const { sm, sdk, store, first } = await fresh();
    const prepared = await store.prepare(await store.read(), changes(NEW), AT);
    sm.faults.add({ kind: 'drop', op: 'PutSecretValue' });
    sm.faults.add({ kind: 'drop', op: 'UpdateSecretVersionStage' });
    await store.commit(prepared.record, changes(NEW));
    expect(await stages(sdk)).toEqual({
      [first]: ['AWSPREVIOUS'],
      [String(prepared.record.token)]: ['AWSCURRENT'],
    });
    expect(sm.log().filter((r) => r.fault === 'drop')).toHaveLength(2);
  });

  it('refuses a SecretString that is not a JSON object', async () => {
    const { sdk, store } = await fresh();
    await sdk.send(
      new PutSecretValueCommand({ SecretId: 'bi/production', SecretString: 'plain-text-canary' }),
    );
    const e = await store.read().catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_STORE_UNSUITABLE' });
    expect(String((e as Error).message)).not.toContain('plain-text-canary');
  });
});
