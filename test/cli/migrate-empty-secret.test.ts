/**
 * A Secrets Manager secret created without a value (no version carries AWSCURRENT, as
 * `aws secretsmanager create-secret --name X` leaves it): `rekey migrate --to aws-secretsmanager`
 * writes its first version (no false "another writer" conflict), the next rotation runs there; and a
 * rotation of a store stack whose secret has no value says so and what to do. Through the built CLI
 * against the stand-in, read back through the real SDK.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToEnd } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');
const REGION = 'eu-west-1';
const CREDS = { accessKeyId: 'AKIDEMPTYSECRET', secretAccessKey: 'not-a-real-secret-key' };
const VALUES = {
  JWT_SECRET: 'canaryJwtEmpty7Q2m9ZpL4vR8sT1wY6uB3nC5kD0fG',
  API_SECRET_KEY: 'canaryApiEmpty3Kl9Mn2Pq7Rs4Tu8Vw1Xy6Za5Bc0',
};

let child: ChildProcess;
let url: string;
beforeAll(async () => {
  child = spawn(process.execPath, [STAND_IN, 'aws-secretsmanager', '--region', REGION], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
  });
  url = (JSON.parse(line) as { url: string }).url;
});
afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

const sdk = () => new SecretsManagerClient({ region: REGION, endpoint: url, credentials: CREDS });

async function stack(name: string) {
  const dir = await tempDir('rekey-empty-secret-');
  await fs.writeFile(
    path.join(dir, '.env.production'),
    `JWT_SECRET=${VALUES.JWT_SECRET}\nAPI_SECRET_KEY=${VALUES.API_SECRET_KEY}\n`,
    { mode: 0o600 },
  );
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    'envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n  - { key: API_SECRET_KEY, type: api-key }\n',
  );
  // Created without a value: the secret exists, no version, no AWSCURRENT.
  await sdk().send(new CreateSecretCommand({ Name: name }));
  const run = (args: string[]) =>
    runToEnd(process.execPath, [CLI, ...args], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        NO_COLOR: '1',
        AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    });
  return { dir, run };
}

describe('a Secrets Manager secret without a value', () => {
  it('rekey migrate writes its first version (no conflict), and the next rotation runs there', async () => {
    const name = 'apps/empty-migrate';
    const s = await stack(name);
    const r = await s.run([
      'migrate',
      '--to',
      'aws-secretsmanager',
      '--secret-id',
      name,
      '--region',
      REGION,
      '--endpoint',
      url,
      '--yes',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/ERR_STORE_CONFLICT|another writer/);
    expect(r.stderr).toMatch(/had no value: its first version written/);
    const cur = await sdk().send(new GetSecretValueCommand({ SecretId: name }));
    expect(JSON.parse(cur.SecretString!)).toEqual(VALUES);
    // As a finished rotation leaves it: AWSCURRENT on the one version, no AWSPENDING left.
    const d = await sdk().send(new DescribeSecretCommand({ SecretId: name }));
    expect(Object.values(d.VersionIdsToStages ?? {})).toEqual([['AWSCURRENT']]);
    expect(r.stdout + r.stderr).not.toContain(VALUES.JWT_SECRET);

    const rot = await s.run(['rotate', '--yes']);
    expect(rot.code, rot.stderr).toBe(0);
    const after = JSON.parse(
      (await sdk().send(new GetSecretValueCommand({ SecretId: name }))).SecretString!,
    ) as Record<string, string>;
    expect(after.JWT_SECRET).not.toBe(VALUES.JWT_SECRET);
  }, 60_000);

  it('a rotation of a stack pointing at it says it has no value and to run rekey migrate', async () => {
    const name = 'apps/empty-rotate';
    const s = await stack(name);
    await fs.writeFile(
      path.join(s.dir, 'rekey.yaml'),
      `store: { type: aws-secretsmanager, secretId: ${name}, region: ${REGION}, endpoint: "${url}" }\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n`,
    );
    const r = await s.run(['rotate', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /ERR_STORE_UNSUITABLE: aws-secretsmanager: apps\/empty-rotate has no value \(no version carries AWSCURRENT/,
    );
    expect(r.stderr).toMatch(/rekey migrate --to aws-secretsmanager/);
  }, 60_000);
});
