/**
 * A store stack for the end-to-end tests: a stand-in (demo/stand-ins/main.ts) started as its own
 * process, a rekey.yaml with its `store:` section and a jwt + api-key stack (file-only secrets), the
 * built CLI run against it, and the store read back through the real clients.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { VaultClient } from '../../../src/stores/vault-kv/client.js';
import { type CliResult, startCli } from '../../engine/stack.js';
import { tempDir } from '../../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');

export type StoreType = 'vault-kv' | 'aws-ssm' | 'aws-secretsmanager';
export const STORE_TYPES: readonly StoreType[] = ['vault-kv', 'aws-ssm', 'aws-secretsmanager'];

export const KEYS = ['JWT_SECRET', 'API_SECRET_KEY'] as const;
/** The values the store holds before the first rotation (canaries: scanned for everywhere). */
export const INITIAL: Readonly<Record<string, string>> = {
  JWT_SECRET: 'jwt-canary-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ',
  API_SECRET_KEY: 'api-canary-0123456789abcdefghijklmnopqrstuvwx',
  UNMANAGED: 'kept-as-is',
};
/** The write operation each stand-in logs for a commit's write. */
export const WRITE_OP: Readonly<Record<StoreType, string>> = {
  'vault-kv': 'vault.write',
  'aws-ssm': 'PutParameter',
  'aws-secretsmanager': 'UpdateSecretVersionStage',
};

/** The stand-in Vault's token (the e2e tests' raw requests use it). */
export const TOKEN = 'vault-token-canary-e2e-4f1c';
const REGION = 'us-east-1';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDSTANDIN', AWS_SECRET_ACCESS_KEY: 'stand-in-secret' };

export interface LoggedRequest {
  readonly op: string;
  readonly write: boolean;
  readonly status: number;
  readonly body: string;
  readonly path: string;
  readonly fault?: string;
}

export interface StoreStack {
  readonly type: StoreType;
  readonly dir: string;
  readonly url: string;
  readonly standIn: ChildProcess;
  /** Every CLI result so far (the canary scans their output). */
  readonly results: CliResult[];
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  start(args: readonly string[], env?: NodeJS.ProcessEnv): ReturnType<typeof startCli>;
  /** The managed keys' values (and UNMANAGED) as the store holds them now. */
  values(): Promise<Record<string, string | undefined>>;
  /** Another writer sets `key` (outside rekey). */
  otherWrite(key: string, value: string): Promise<void>;
  fault(fault: { kind: string; op?: string; count?: number; after?: number }): Promise<void>;
  clearFaults(): Promise<void>;
  latency(ms: number): Promise<void>;
  log(): Promise<LoggedRequest[]>;
  stop(): Promise<void>;
}

async function startStandIn(type: StoreType, dir: string): Promise<{ child: ChildProcess; url: string }> {
  const args = type === 'vault-kv' ? ['--token-file', path.join(dir, 'token')] : ['--region', REGION];
  const child = spawn(process.execPath, [STAND_IN, type, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in ${type} exited ${code}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

function storeSection(type: StoreType, url: string): string {
  switch (type) {
    case 'vault-kv':
      return `store: { type: vault-kv, address: "${url}", mount: secret, path: bi/production, tokenFile: token }`;
    case 'aws-ssm':
      return `store: { type: aws-ssm, prefix: /bi/production/, region: ${REGION}, endpoint: "${url}" }`;
    case 'aws-secretsmanager':
      return `store: { type: aws-secretsmanager, secretId: bi/production, region: ${REGION}, endpoint: "${url}" }`;
  }
}

/**
 * A store stack in a fresh temp dir, seeded with {@link INITIAL}.
 *
 * @example
 * const s = await makeStoreStack('aws-ssm');
 * expect((await s.run(['rotate', '--yes'])).code).toBe(0);
 */
export async function makeStoreStack(
  type: StoreType,
  options: {
    extraConfig?: string;
    /** More secrets: their rekey.yaml lines and initial values (seeded, read back by `values()`). */
    extra?: { readonly secrets: readonly string[]; readonly values: Readonly<Record<string, string>> };
  } = {},
): Promise<StoreStack> {
  const seed = { ...INITIAL, ...options.extra?.values };
  const readKeys = [...KEYS, 'UNMANAGED', ...Object.keys(options.extra?.values ?? {})];
  const dir = await tempDir(`rekey-store-${type}-`);
  await fs.writeFile(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const { child, url } = await startStandIn(type, dir);
  const vault =
    type === 'vault-kv'
      ? await VaultClient.connect({ address: url }, { env: { VAULT_TOKEN: TOKEN } })
      : undefined;
  const aws = {
    region: REGION,
    endpoint: url,
    credentials: { accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: AWS_ENV.AWS_SECRET_ACCESS_KEY },
  };
  const ssm = type === 'aws-ssm' ? new SSMClient(aws) : undefined;
  const sm = type === 'aws-secretsmanager' ? new SecretsManagerClient(aws) : undefined;

  if (vault) await vault.write('secret', 'bi/production', { ...seed }, 0);
  if (ssm)
    for (const [k, v] of Object.entries(seed))
      await ssm.send(
        new PutParameterCommand({ Name: `/bi/production/${k}`, Value: v, Type: 'SecureString' }),
      );
  if (sm)
    await sm.send(new CreateSecretCommand({ Name: 'bi/production', SecretString: JSON.stringify(seed) }));

  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    [
      storeSection(type, url),
      'secrets:',
      '  - { key: JWT_SECRET, type: jwt }',
      '  - { key: API_SECRET_KEY, type: api-key }',
      ...(options.extra?.secrets ?? []),
      // What makes the app read the new values (here: nothing to restart), so the deploy step runs.
      options.extraConfig ?? 'deploy: { command: "true", rollback: "true" }',
      '',
    ].join('\n'),
  );
  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    ...process.env,
    NO_COLOR: '1',
    ...AWS_ENV,
    AWS_REGION: REGION,
    VAULT_TOKEN: '',
    ...extra,
  });
  const results: CliResult[] = [];
  const control = (route: string, method: string, body?: unknown) =>
    fetch(`${url}/__stand-in/${route}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const { VaultKvStore } = await import('../../../src/stores/vault-kv/store.js');
  const { AwsSsmStore } = await import('../../../src/stores/aws-ssm/store.js');
  const { AwsSecretsManagerStore } = await import('../../../src/stores/aws-secretsmanager/store.js');
  const reader =
    type === 'vault-kv'
      ? await VaultKvStore.open(
          { type, address: url, mount: 'secret', path: 'bi/production' },
          { env: { VAULT_TOKEN: TOKEN } },
        )
      : type === 'aws-ssm'
        ? new AwsSsmStore(
            { type, prefix: '/bi/production/', region: REGION, endpoint: url },
            { credentials: aws.credentials },
          )
        : new AwsSecretsManagerStore(
            { type, secretId: 'bi/production', region: REGION, endpoint: url },
            { credentials: aws.credentials },
          );

  return {
    type,
    dir,
    url,
    standIn: child,
    results,
    async run(args, extra) {
      const r = await startCli(args, dir, env(extra)).done;
      results.push(r);
      return r;
    },
    start(args, extra) {
      const started = startCli(args, dir, env(extra));
      void started.done.then((r) => results.push(r));
      return started;
    },
    async values() {
      const snap = await reader.read();
      return Object.fromEntries(readKeys.map((k) => [k, snap.values.get(k)]));
    },
    async otherWrite(key, value) {
      if (vault) {
        const cur = await vault.read('secret', 'bi/production');
        await vault.write(
          'secret',
          'bi/production',
          { ...(cur?.data ?? {}), [key]: value },
          cur?.version ?? 0,
        );
      }
      if (ssm)
        await ssm.send(
          new PutParameterCommand({
            Name: `/bi/production/${key}`,
            Value: value,
            Type: 'SecureString',
            Overwrite: true,
          }),
        );
      if (sm) {
        const cur = await reader.read();
        await sm.send(
          new PutSecretValueCommand({
            SecretId: 'bi/production',
            SecretString: JSON.stringify({ ...Object.fromEntries(cur.values), [key]: value }),
          }),
        );
      }
    },
    async fault(f) {
      await control('faults', 'POST', f);
    },
    async clearFaults() {
      await control('faults', 'DELETE');
    },
    async latency(ms) {
      await control('latency', 'POST', { ms });
    },
    async log() {
      return (await (await control('log', 'GET')).json()) as LoggedRequest[];
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Every file under `dir` (recursively), as text. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(await fs.readFile(p, 'utf8'));
  }
  return out;
}
