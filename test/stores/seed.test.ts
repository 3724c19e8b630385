/**
 * The seeders `rekey migrate` writes with (src/stores/<type>/seed.ts), against the stand-ins: a first
 * write creates the secret or parameters (Vault cas=0, SSM without Overwrite, Secrets Manager
 * CreateSecret), a later one keeps the other fields, and another writer between the read and the
 * write makes it fail with ERR_STORE_CONFLICT, the other writer's value kept.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningStandIn } from '../../demo/stand-ins/harness.js';
import { startSecretsManagerStandIn } from '../../demo/stand-ins/secrets-manager.js';
import { startSsmStandIn } from '../../demo/stand-ins/ssm.js';
import { startVaultStandIn } from '../../demo/stand-ins/vault-kv.js';
import { awsSecretsManagerSeeder } from '../../src/stores/aws-secretsmanager/seed.js';
import { awsSsmSeeder } from '../../src/stores/aws-ssm/seed.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';
import { vaultKvSeeder } from '../../src/stores/vault-kv/seed.js';
import { conflictRow as row } from './helpers.js';

/** The conflict row, and the assertion that the write was refused with ERR_STORE_CONFLICT. */
async function conflictRow(...args: Parameters<typeof row>): Promise<void> {
  expect(await row(...args)).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
}

const TOKEN = 'seed-root-token';
const creds = { accessKeyId: 'AKIDSEED', secretAccessKey: 'seed-secret' };
const REGION = 'eu-west-1';
const running: RunningStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

describe('vault-kv seeder', () => {
  async function setup() {
    const vault = await startVaultStandIn({ tokens: { [TOKEN]: 'root' } });
    running.push(vault);
    const config = { type: 'vault-kv' as const, address: vault.url, mount: 'secret', path: 'app' };
    const seeder = await vaultKvSeeder(config, { env: { VAULT_TOKEN: TOKEN }, backoffMs: 10 });
    const client = await VaultClient.connect({ address: vault.url }, { env: { VAULT_TOKEN: TOKEN } });
    return { seeder, client };
  }

  it('creates the secret with cas=0, then keeps other fields on the next write', async () => {
    const { seeder, client } = await setup();
    await seeder.check();
    expect(await seeder.read(['A'])).toEqual(new Map());
    await seeder.write({ A: 'a-1' });
    await client.write('secret', 'app', { A: 'a-1', OTHER: 'kept' }, 1);
    expect(await seeder.read(['A', 'B'])).toEqual(new Map([['A', 'a-1']]));
    await seeder.write({ B: 'b-1' });
    expect((await client.read('secret', 'app'))?.data).toEqual({ A: 'a-1', OTHER: 'kept', B: 'b-1' });
  });

  it('fails with ERR_STORE_CONFLICT when another writer created the secret after the read', async () => {
    const { seeder, client } = await setup();
    await seeder.read(['A']);
    await client.write('secret', 'app', { A: 'theirs' }, 0);
    await conflictRow(
      'stores/seed',
      'vault-kv: another writer creates the secret between migrate read and write',
      seeder.write({ A: 'mine' }),
      async () => (await client.read('secret', 'app'))?.data?.A === 'theirs',
    );
    expect((await client.read('secret', 'app'))?.data).toEqual({ A: 'theirs' });
  });
});

describe('aws-ssm seeder', () => {
  async function setup() {
    const ssm = await startSsmStandIn({ region: REGION });
    running.push(ssm);
    const config = { type: 'aws-ssm' as const, prefix: '/app/', region: REGION, endpoint: ssm.url };
    const sdk = new SSMClient({ region: REGION, endpoint: ssm.url, credentials: creds });
    return { seeder: awsSsmSeeder(config, { credentials: creds }), sdk };
  }
  const value = async (sdk: SSMClient, name: string) =>
    (await sdk.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter;

  it('puts new parameters without Overwrite and overwrites those it read', async () => {
    const { seeder, sdk } = await setup();
    await sdk.send(new PutParameterCommand({ Name: '/app/B', Value: 'old', Type: 'SecureString' }));
    await seeder.check();
    expect(await seeder.read(['A', 'B'])).toEqual(new Map([['B', 'old']]));
    await seeder.write({ A: 'a-1', B: 'b-1' });
    expect(await value(sdk, '/app/A')).toMatchObject({ Value: 'a-1', Version: 1, Type: 'SecureString' });
    expect(await value(sdk, '/app/B')).toMatchObject({ Value: 'b-1', Version: 2 });
  });

  it('fails with ERR_STORE_CONFLICT when another writer created a parameter after the read', async () => {
    const { seeder, sdk } = await setup();
    await seeder.read(['A']);
    await sdk.send(new PutParameterCommand({ Name: '/app/A', Value: 'theirs', Type: 'SecureString' }));
    await conflictRow(
      'stores/seed',
      'aws-ssm: another writer creates a parameter between migrate read and write',
      seeder.write({ A: 'mine' }),
      async () => (await value(sdk, '/app/A'))?.Value === 'theirs',
    );
  });
});

describe('aws-secretsmanager seeder', () => {
  async function setup() {
    const sm = await startSecretsManagerStandIn({ region: REGION });
    running.push(sm);
    const config = { type: 'aws-secretsmanager' as const, secretId: 'app', region: REGION, endpoint: sm.url };
    const sdk = new SecretsManagerClient({ region: REGION, endpoint: sm.url, credentials: creds });
    return { seeder: awsSecretsManagerSeeder(config, { credentials: creds }), sdk };
  }
  const fields = async (sdk: SecretsManagerClient) =>
    JSON.parse(
      (await sdk.send(new GetSecretValueCommand({ SecretId: 'app' }))).SecretString ?? '',
    ) as unknown;

  it('creates a missing secret, then moves AWSCURRENT to a new version keeping other fields', async () => {
    const { seeder, sdk } = await setup();
    await seeder.check();
    expect(await seeder.read(['A'])).toEqual(new Map());
    await seeder.write({ A: 'a-1' });
    expect(await fields(sdk)).toEqual({ A: 'a-1' });
    await sdk.send(
      new PutSecretValueCommand({ SecretId: 'app', SecretString: '{"A":"a-1","OTHER":"kept"}' }),
    );
    expect(await seeder.read(['A', 'B'])).toEqual(new Map([['A', 'a-1']]));
    await seeder.write({ B: 'b-1' });
    expect(await fields(sdk)).toEqual({ A: 'a-1', OTHER: 'kept', B: 'b-1' });
  });

  it('fails with ERR_STORE_CONFLICT when another writer created or changed the secret after the read', async () => {
    const { seeder, sdk } = await setup();
    await seeder.read(['A']);
    await sdk.send(new CreateSecretCommand({ Name: 'app', SecretString: '{"A":"theirs"}' }));
    await conflictRow(
      'stores/seed',
      'aws-secretsmanager: another writer creates the secret between migrate read and write',
      seeder.write({ A: 'mine' }),
      async () => ((await fields(sdk)) as { A?: string }).A === 'theirs',
    );
    await seeder.read(['A']);
    await sdk.send(new PutSecretValueCommand({ SecretId: 'app', SecretString: '{"A":"theirs-2"}' }));
    await conflictRow(
      'stores/seed',
      'aws-secretsmanager: another writer moves AWSCURRENT between migrate read and write',
      seeder.write({ A: 'mine' }),
      async () => ((await fields(sdk)) as { A?: string }).A === 'theirs-2',
    );
  });
});
