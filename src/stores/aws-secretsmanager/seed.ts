/**
 * `rekey migrate --to aws-secretsmanager`: the first copy of the values into one secret whose
 * SecretString is a JSON object (other fields kept). A missing secret is created (CreateSecret
 * refuses if someone created it meanwhile); an existing one gets a new version staged as AWSPENDING,
 * then AWSCURRENT moved onto it with `RemoveFromVersionId` = the version read: Secrets Manager
 * refuses the move if AWSCURRENT moved meanwhile (the compare-and-set the rotation uses too).
 */
import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { AwsSecretsManagerStoreConfig } from '../../config/store.js';
import type { Values } from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import { type AwsClientConfig, awsCall, secretsManagerClient } from '../aws/clients.js';
import type { StoreSeeder } from '../seed.js';
import { AwsSecretsManagerStore } from './store.js';

const STORE = 'aws-secretsmanager';

/** A version id of a migration: 46 characters (Secrets Manager wants 32–64), recognisable as rekey's. */
function migrationToken(): string {
  return `rekey-migrate-${randomBytes(16).toString('hex')}`;
}

/**
 * @example
 * const seeder = awsSecretsManagerSeeder({ type: 'aws-secretsmanager', secretId: 'bi/production', region: 'eu-west-1' });
 */
export function awsSecretsManagerSeeder(
  config: AwsSecretsManagerStoreConfig,
  clientConfig: Omit<AwsClientConfig, 'region' | 'endpoint'> = {},
): StoreSeeder {
  const store = new AwsSecretsManagerStore(config, clientConfig);
  const client = secretsManagerClient({
    ...clientConfig,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
  });
  const { secretId } = config;
  const call = <T>(what: string, run: (s: AbortSignal) => Promise<T>, pass: readonly string[] = []) =>
    awsCall(STORE, `${what} ${secretId}`, run, pass);
  /**
   * The AWSCURRENT version at the last read and its fields; `missing` when there was no secret,
   * `empty` when the secret exists without a value (created with no SecretString: no version
   * carries AWSCURRENT).
   */
  let seen: { version: string; fields: Record<string, unknown> } | 'missing' | 'empty' | undefined;

  /** Whether the secret exists (it may have no value). */
  async function exists(): Promise<boolean> {
    try {
      await call(
        'DescribeSecret',
        (abortSignal) => client.send(new DescribeSecretCommand({ SecretId: secretId }), { abortSignal }),
        ['ResourceNotFoundException'],
      );
      return true;
    } catch (e) {
      if (e instanceof Error && e.name === 'ResourceNotFoundException') return false;
      throw e;
    }
  }

  async function current(): Promise<typeof seen> {
    try {
      const v = await call(
        'GetSecretValue',
        (abortSignal) =>
          client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }), {
            abortSignal,
          }),
        ['ResourceNotFoundException'],
      );
      let fields: unknown;
      try {
        fields = JSON.parse(v.SecretString ?? '');
      } catch {
        fields = undefined;
      }
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
        throw new RekeyError(
          'ERR_STORE_UNSUITABLE',
          `aws-secretsmanager: the SecretString of ${secretId} is not a JSON object`,
          {
            hint: 'rekey keeps one field per managed key in a JSON object; choose another --secret-id.',
          },
        );
      return { version: v.VersionId ?? '', fields: fields as Record<string, unknown> };
    } catch (e) {
      // No AWSCURRENT: no secret, or one created without a value (DescribeSecret tells them apart).
      if (e instanceof Error && e.name === 'ResourceNotFoundException')
        return (await exists()) ? 'empty' : 'missing';
      throw e;
    }
  }

  const conflict = () =>
    new RekeyError('ERR_STORE_CONFLICT', `aws-secretsmanager: another writer changed ${secretId} meanwhile`, {
      hint: 'Find who writes that secret, then run `rekey migrate` again.',
    });

  /**
   * A secret without a value gets its first version: staged as AWSPENDING, then AWSCURRENT attached
   * with no `RemoveFromVersionId`, which Secrets Manager refuses if another writer's version got
   * AWSCURRENT meanwhile (it attaches AWSCURRENT to a secret's first version by itself: then the move
   * finds it there already).
   */
  async function firstVersion(values: Values, token: string): Promise<string> {
    await stageAndMove({ ...values }, token);
    return `Secrets Manager ${secretId} had no value: its first version written (AWSCURRENT: ${token})`;
  }

  /**
   * Writes `fields` as a new version staged AWSPENDING, moves AWSCURRENT onto it from `from` (none:
   * a secret without a value), then takes AWSPENDING off. A lost answer to a move that happened is
   * success; AWSCURRENT found on a third version is another writer (ERR_STORE_CONFLICT).
   */
  async function stageAndMove(fields: Record<string, unknown>, token: string, from?: string): Promise<void> {
    await call('PutSecretValue', (abortSignal) =>
      client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify(fields),
          VersionStages: ['AWSPENDING'],
        }),
        { abortSignal },
      ),
    );
    await call('UpdateSecretVersionStage', (abortSignal) =>
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(from === undefined ? {} : { RemoveFromVersionId: from }),
        }),
        { abortSignal },
      ),
    ).catch(async (e: unknown) => {
      const now = await current();
      if (typeof now === 'object' && now.version === token) return;
      throw typeof now === 'object' && now.version !== from ? conflict() : e;
    });
    await dropPending(token);
    seen = { version: token, fields };
  }

  /** Takes AWSPENDING off the new version, as a finished rotation leaves it (best effort). */
  function dropPending(token: string): Promise<unknown> {
    return call('UpdateSecretVersionStage', (abortSignal) =>
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        }),
        { abortSignal },
      ),
    ).catch(() => undefined);
  }

  return {
    name: store.name,
    async check() {
      // A secret that does not exist yet is fine: migrate creates it.
      if ((await current()) !== 'missing') await store.check();
    },
    async read(keys) {
      seen = await current();
      const out = new Map<string, string>();
      if (seen === 'missing' || seen === 'empty' || seen === undefined) return out;
      for (const k of keys) {
        const value = seen.fields[k];
        if (typeof value === 'string') out.set(k, value);
      }
      return out;
    },
    async write(values: Values) {
      if (seen === undefined) throw new Error('awsSecretsManagerSeeder: write before read');
      const token = migrationToken();
      if (seen === 'missing') {
        await call(
          'CreateSecret',
          (abortSignal) =>
            client.send(
              new CreateSecretCommand({
                Name: secretId,
                ClientRequestToken: token,
                SecretString: JSON.stringify(values),
              }),
              { abortSignal },
            ),
          ['ResourceExistsException'],
        ).catch((e: unknown) => {
          if (e instanceof Error && e.name === 'ResourceExistsException') throw conflict();
          throw e;
        });
        seen = { version: token, fields: { ...values } };
        return `Secrets Manager secret ${secretId} created (version ${token})`;
      }
      if (seen === 'empty') return firstVersion(values, token);
      const from = seen.version;
      await stageAndMove({ ...seen.fields, ...values }, token, from);
      return `Secrets Manager ${secretId}: AWSCURRENT moved to ${token} (AWSPREVIOUS: ${from})`;
    },
  };
}
