/**
 * The Secrets Manager stand-in driven by the real SDK (@aws-sdk/client-secrets-manager): the SDK
 * accepts its answers unchanged, and it keeps Secrets Manager's rules for ClientRequestToken
 * idempotency and staging labels (AWSCURRENT / AWSPREVIOUS / AWSPENDING).
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type SecretsManagerStandIn,
  startSecretsManagerStandIn,
} from '../../demo/stand-ins/secrets-manager.js';

const running: SecretsManagerStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function fresh() {
  const sm = await startSecretsManagerStandIn({ region: 'eu-west-1' });
  running.push(sm);
  const client = new SecretsManagerClient({
    region: 'eu-west-1',
    endpoint: sm.url,
    credentials: { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret-key' },
  });
  const created = await client.send(
    new CreateSecretCommand({
      Name: 'bi/production',
      SecretString: JSON.stringify({ JWT_SECRET: 'old-jwt' }),
    }),
  );
  return { sm, client, first: created.VersionId ?? '' };
}

const TOKEN = 'rekey-20261204-120000-abcdef0123456789';

describe('Secrets Manager stand-in through @aws-sdk/client-secrets-manager', () => {
  it('reads AWSCURRENT by default, by stage and by VersionId; unknown ones are ResourceNotFoundException', async () => {
    const { client, first } = await fresh();
    expect(first).toMatch(/^[0-9a-f-]{32,64}$/);
    const cur = await client.send(new GetSecretValueCommand({ SecretId: 'bi/production' }));
    expect(cur).toMatchObject({ Name: 'bi/production', VersionId: first, VersionStages: ['AWSCURRENT'] });
    expect(JSON.parse(cur.SecretString ?? '')).toEqual({ JWT_SECRET: 'old-jwt' });
    expect(cur.CreatedDate).toBeInstanceOf(Date);
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: cur.ARN, VersionId: first }));
    expect(byArn.VersionId).toBe(first);
    await expect(
      client.send(new GetSecretValueCommand({ SecretId: 'bi/production', VersionStage: 'AWSPENDING' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('PutSecretValue is idempotent on ClientRequestToken: same value OK, another value ResourceExistsException', async () => {
    const { client } = await fresh();
    const pending = { SecretId: 'bi/production', ClientRequestToken: TOKEN, VersionStages: ['AWSPENDING'] };
    const a = await client.send(
      new PutSecretValueCommand({ ...pending, SecretString: '{"JWT_SECRET":"new"}' }),
    );
    expect(a).toMatchObject({ VersionId: TOKEN, VersionStages: ['AWSPENDING'] });
    const b = await client.send(
      new PutSecretValueCommand({ ...pending, SecretString: '{"JWT_SECRET":"new"}' }),
    );
    expect(b.VersionId).toBe(TOKEN);
    await expect(
      client.send(new PutSecretValueCommand({ ...pending, SecretString: '{"JWT_SECRET":"other"}' })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    // AWSCURRENT did not move.
    const cur = await client.send(new GetSecretValueCommand({ SecretId: 'bi/production' }));
    expect(JSON.parse(cur.SecretString ?? '')).toEqual({ JWT_SECRET: 'old-jwt' });
  });

  it('moves AWSCURRENT only with RemoveFromVersionId, drags AWSPREVIOUS, and moves it back', async () => {
    const { client, first } = await fresh();
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'bi/production',
        ClientRequestToken: TOKEN,
        SecretString: '{"JWT_SECRET":"new"}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    await expect(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: 'bi/production',
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: TOKEN,
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'bi/production',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: TOKEN,
        RemoveFromVersionId: first,
      }),
    );
    const d = await client.send(new DescribeSecretCommand({ SecretId: 'bi/production' }));
    expect(d.VersionIdsToStages).toEqual({ [first]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    // AWSCURRENT cannot be removed without a new home.
    await expect(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: 'bi/production',
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: TOKEN,
        }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    // Roll back: move it back.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'bi/production',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: first,
        RemoveFromVersionId: TOKEN,
      }),
    );
    const back = await client.send(new GetSecretValueCommand({ SecretId: 'bi/production' }));
    expect(back.VersionId).toBe(first);
    const prev = await client.send(
      new GetSecretValueCommand({ SecretId: 'bi/production', VersionStage: 'AWSPREVIOUS' }),
    );
    expect(prev.VersionId).toBe(TOKEN);
    // Moving a label onto the version that has it is a no-op.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'bi/production',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: first,
        RemoveFromVersionId: first,
      }),
    );
  });

  it('throttling is retried by the SDK, and only the writes carry a value in the request log', async () => {
    const { sm, client } = await fresh();
    sm.clearLog();
    sm.faults.add({ kind: 'throttle', op: 'GetSecretValue' });
    await client.send(new GetSecretValueCommand({ SecretId: 'bi/production' }));
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'bi/production',
        ClientRequestToken: TOKEN,
        SecretString: '{"K":"canary-9d8e"}',
      }),
    );
    const log = sm.log();
    expect(log.map((r) => [r.op, r.status])).toEqual([
      ['GetSecretValue', 400],
      ['GetSecretValue', 200],
      ['PutSecretValue', 200],
    ]);
    expect(log.filter((r) => r.body.includes('canary-9d8e')).every((r) => r.write)).toBe(true);
  });
});
