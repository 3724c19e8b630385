/**
 * The demo app's AWS store reads (demo/app/store.ts, the `rekey demo --store aws-ssm|aws-secretsmanager`
 * variants) through the official SDK v3 clients against the stand-ins: the store's fields win over the
 * env file's (SSM: every page of GetParametersByPath), and a refused read (unknown access key, no
 * secret, a SecretString that is no JSON object, no region, no store answering) is an AppConfigError
 * naming the location and the error type, never a value.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppConfigError, loadConfig } from '../../demo/app/config.js';
import type { RunningStandIn } from '../../demo/stand-ins/harness.js';
import { startSecretsManagerStandIn } from '../../demo/stand-ins/secrets-manager.js';
import { startSsmStandIn } from '../../demo/stand-ins/ssm.js';
import { tempDir } from '../helpers/tmp.js';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const ENV = {
  POSTGRES_USER: 'bi_app',
  POSTGRES_PASSWORD: 'pg-Secret-1234567',
  POSTGRES_DB: 'business_intelligence',
  REDIS_PASSWORD: 'redis-Secret-1234567',
  JWT_SECRET: 'env-file-jwt-secret-that-loses',
  API_SECRET_KEY: 'env-file-api-key-that-loses',
};
const STORE = {
  JWT_SECRET: 'store-jwt-secret-canary-1234567890',
  JWT_SECRET_PREVIOUS: 'store-jwt-previous-canary-123456',
  API_SECRET_KEY: 'store-api-key-canary-1234567890',
};
const VALUES = [...Object.values(ENV), ...Object.values(STORE)].filter((v) => v.length >= 8);

// The app's clients take the default credential chain: here, the environment (as the demo's deploy).
const saved = { ...process.env };
beforeAll(() => {
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
});
afterAll(() => {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'AWS_SESSION_TOKEN'])
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
});

const running: RunningStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function envFile(location: Record<string, string>): Promise<string> {
  const file = path.join(await tempDir(), '.env');
  const lines = Object.entries({ ...ENV, AWS_REGION: REGION, ...location }).map(([k, v]) => `${k}=${v}`);
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

async function ssm(options: { accessKeyIds?: string[] } = {}) {
  const s = await startSsmStandIn({ region: REGION, ...options });
  running.push(s);
  const client = new SSMClient({ region: REGION, endpoint: s.url, credentials: CREDENTIALS });
  // More than one page of GetParametersByPath (at most 10 a page), and one parameter below the path.
  const params = { ...STORE, ...Object.fromEntries([...Array(9)].map((_, i) => [`OTHER_${i}`, `v${i}`])) };
  if (options.accessKeyIds === undefined)
    for (const [k, v] of Object.entries({ ...params, 'nested/JWT_SECRET': 'below-the-path-loses' }))
      await client.send(new PutParameterCommand({ Name: `/demo/app/${k}`, Value: v, Type: 'SecureString' }));
  client.destroy();
  return s;
}

async function secretsManager(secretString?: string) {
  const s = await startSecretsManagerStandIn({ region: REGION });
  running.push(s);
  const client = new SecretsManagerClient({ region: REGION, endpoint: s.url, credentials: CREDENTIALS });
  if (secretString !== undefined)
    await client.send(new CreateSecretCommand({ Name: 'demo/app', SecretString: secretString }));
  client.destroy();
  return s;
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

describe('demo app: secrets from AWS SSM Parameter Store and Secrets Manager', () => {
  it("lays the SSM parameters under AWS_SSM_PREFIX over the env file's values, every page", async () => {
    const s = await ssm();
    const config = await loadConfig(await envFile({ AWS_SSM_PREFIX: '/demo/app/', AWS_ENDPOINT_URL: s.url }));
    expect(config.jwt).toEqual({ current: STORE.JWT_SECRET, previous: STORE.JWT_SECRET_PREVIOUS });
    expect(config.apiKey).toEqual({ current: STORE.API_SECRET_KEY, previous: '' });
    expect(config.postgres.password).toBe(ENV.POSTGRES_PASSWORD);
    const reads = s.log().filter((r) => r.op === 'GetParametersByPath');
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.every((r) => JSON.parse(r.body).WithDecryption === true)).toBe(true);
  });

  it("lays the Secrets Manager secret's JSON fields over the env file's values", async () => {
    const s = await secretsManager(JSON.stringify({ ...STORE, LIMIT: 3 }));
    const config = await loadConfig(await envFile({ AWS_SECRET_ID: 'demo/app', AWS_ENDPOINT_URL: s.url }));
    expect(config.jwt).toEqual({ current: STORE.JWT_SECRET, previous: STORE.JWT_SECRET_PREVIOUS });
    expect(config.apiKey.current).toBe(STORE.API_SECRET_KEY);
    expect(config.redis.password).toBe(ENV.REDIS_PASSWORD);
  });

  it('refuses to start on an unknown access key, no secret, no JSON object, no region or no store, naming no value', async () => {
    const denied = await ssm({ accessKeyIds: ['AKIDSOMEONEELSE'] });
    const empty = await secretsManager();
    const notJson = await secretsManager('not-a-json-object-canary-123456');
    const gone = await secretsManager(JSON.stringify(STORE));
    await gone.close();
    const cases = [
      {
        file: await envFile({ AWS_SSM_PREFIX: '/demo/app/', AWS_ENDPOINT_URL: denied.url }),
        says: /SSM GetParametersByPath \/demo\/app\/: UnrecognizedClientException/,
      },
      {
        file: await envFile({ AWS_SECRET_ID: 'demo/app', AWS_ENDPOINT_URL: empty.url }),
        says: /Secrets Manager GetSecretValue demo\/app: ResourceNotFoundException/,
      },
      {
        file: await envFile({ AWS_SECRET_ID: 'demo/app', AWS_ENDPOINT_URL: notJson.url }),
        says: /Secrets Manager demo\/app: the SecretString is not a JSON object/,
      },
      {
        file: await envFile({ AWS_SECRET_ID: 'demo/app', AWS_ENDPOINT_URL: gone.url }),
        says: /Secrets Manager GetSecretValue demo\/app: \w+/,
      },
      {
        file: await envFile({ AWS_SECRET_ID: 'demo/app', AWS_ENDPOINT_URL: empty.url, AWS_REGION: '' }),
        says: /AWS_REGION is needed/,
      },
    ];
    for (const c of cases) {
      const e = await refusal(loadConfig(c.file));
      expect(e, c.says.source).toBeInstanceOf(AppConfigError);
      expect(e?.message).toMatch(c.says);
      expect(e?.message).toContain(c.file);
      for (const v of [...VALUES, 'not-a-json-object-canary-123456', CREDENTIALS.secretAccessKey])
        expect(e?.message).not.toContain(v);
    }
  }, 60_000);
});
