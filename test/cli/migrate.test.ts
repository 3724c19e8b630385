/**
 * `rekey migrate` through the built CLI, against the stand-ins run as their own processes and read
 * back through the real clients (the Vault client, the AWS SDK): the store holds exactly the env
 * file's values, rekey.yaml gains the store: section (every other byte kept, a backup beside it),
 * --dry-run changes nothing, existing values are refused without --force, --remove-from-env only
 * once the store holds the same values, a kill -9 between the store write and the rekey.yaml write
 * converges on a rerun, and no value shows in the output, the files or the stand-ins' read requests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersByPathCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { runToEnd } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');
const SUITE = 'cli/migrate';
const REGION = 'eu-west-1';
const VAULT_TOKEN = 'root-token-for-migrate-tests';
const CREDS = { accessKeyId: 'AKIDMIGRATE', secretAccessKey: 'not-a-real-secret-key' };

interface LoggedRequest {
  readonly op: string;
  readonly write: boolean;
  readonly body: string;
  readonly path: string;
}
interface StandIn {
  readonly child: ChildProcess;
  readonly url: string;
  log(): Promise<LoggedRequest[]>;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function startStandIn(args: string[]): Promise<StandIn> {
  const child = spawn(process.execPath, [STAND_IN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
  });
  const url = (JSON.parse(line) as { url: string }).url;
  return {
    child,
    url,
    log: async () => (await (await fetch(`${url}/__stand-in/log`)).json()) as LoggedRequest[],
  };
}

let vault: StandIn;
let ssm: StandIn;
let sm: StandIn;
let tokenFile: string;

beforeAll(async () => {
  const dir = await tempDir('rekey-migrate-standins-');
  tokenFile = path.join(dir, 'vault-token');
  await fs.writeFile(tokenFile, `${VAULT_TOKEN}\n`, { mode: 0o600 });
  [vault, ssm, sm] = await Promise.all([
    startStandIn(['vault-kv', '--token-file', tokenFile]),
    startStandIn(['aws-ssm', '--region', REGION]),
    startStandIn(['aws-secretsmanager', '--region', REGION]),
  ]);
});

const CONFIG = `# The stack's rotation config (comments and layout must survive migrate)
envFile: .env.production   # the app's env file

secrets:
  - key: JWT_SECRET        # signs sessions
    type: jwt
    previousKey: JWT_SECRET_PREVIOUS
  - key: API_SECRET_KEY
    type: api-key
`;

let counter = 0;

interface Stack {
  readonly dir: string;
  readonly name: string;
  readonly values: Record<string, string>;
  readonly config: string;
  readonly envFile: string;
  readonly envText: string;
}

async function makeStack(): Promise<Stack> {
  const dir = await tempDir('rekey-migrate-');
  const n = ++counter;
  const values = {
    JWT_SECRET: `canaryJwt${n}x7Q2m9ZpL4vR8sT1wY6uB3nC5kD0fG`,
    API_SECRET_KEY: `canaryApi${n}Hj3Kl9Mn2Pq7Rs4Tu8Vw1Xy6Za5Bc0`,
  };
  const envText = `# app env\nAPP_NAME=demo\nJWT_SECRET=${values.JWT_SECRET}\nAPI_SECRET_KEY="${values.API_SECRET_KEY}"\nLOG_LEVEL=info\n`;
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, envText, { mode: 0o600 });
  const config = path.join(dir, 'rekey.yaml');
  await fs.writeFile(config, CONFIG, { mode: 0o640 });
  return { dir, name: `migrate${n}`, values, config, envFile, envText };
}

type StoreKind = 'vault-kv' | 'aws-ssm' | 'aws-secretsmanager';

/** The destination options for a stack (a path, prefix or secret of its own). */
function destination(kind: StoreKind, s: Stack): string[] {
  switch (kind) {
    case 'vault-kv':
      return ['--address', vault.url, '--path', `apps/${s.name}`, '--token-file', tokenFile];
    case 'aws-ssm':
      return ['--prefix', `/apps/${s.name}/`, '--region', REGION, '--endpoint', ssm.url];
    case 'aws-secretsmanager':
      return ['--secret-id', `apps/${s.name}`, '--region', REGION, '--endpoint', sm.url];
  }
}

function migrate(s: Stack, args: string[], env: NodeJS.ProcessEnv = {}) {
  return rekey(s, ['migrate', ...args], env);
}

function rekey(s: Stack, args: string[], env: NodeJS.ProcessEnv = {}) {
  return runToEnd(process.execPath, [CLI, '--config', s.config, ...args], {
    cwd: s.dir,
    env: {
      PATH: process.env.PATH,
      HOME: s.dir,
      NO_COLOR: '1',
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
  });
}

const vaultClient = () => VaultClient.connect({ address: vault.url }, { env: { VAULT_TOKEN } });
const ssmSdk = () => new SSMClient({ region: REGION, endpoint: ssm.url, credentials: CREDS });
const smSdk = () => new SecretsManagerClient({ region: REGION, endpoint: sm.url, credentials: CREDS });

/** What the store holds for the stack, read back through the real client (undefined: nothing). */
async function held(kind: StoreKind, s: Stack): Promise<Record<string, unknown> | undefined> {
  switch (kind) {
    case 'vault-kv': {
      const v = await (await vaultClient()).read('secret', `apps/${s.name}`);
      return v?.data ?? undefined;
    }
    case 'aws-ssm': {
      const out = await ssmSdk().send(
        new GetParametersByPathCommand({ Path: `/apps/${s.name}/`, WithDecryption: true }),
      );
      if ((out.Parameters ?? []).length === 0) return undefined;
      return Object.fromEntries(
        (out.Parameters ?? []).map((p) => [p.Name!.slice(`/apps/${s.name}/`.length), p.Value]),
      );
    }
    case 'aws-secretsmanager': {
      try {
        const v = await smSdk().send(new GetSecretValueCommand({ SecretId: `apps/${s.name}` }));
        return JSON.parse(v.SecretString ?? '{}') as Record<string, unknown>;
      } catch (e) {
        if ((e as Error).name === 'ResourceNotFoundException') return undefined;
        throw e;
      }
    }
  }
}

/** Puts a value into the store for the stack, as another writer would. */
async function preset(kind: StoreKind, s: Stack, fields: Record<string, string>): Promise<void> {
  switch (kind) {
    case 'vault-kv':
      await (await vaultClient()).write('secret', `apps/${s.name}`, fields, 0);
      return;
    case 'aws-ssm':
      for (const [k, v] of Object.entries(fields))
        await ssmSdk().send(
          new PutParameterCommand({ Name: `/apps/${s.name}/${k}`, Value: v, Type: 'SecureString' }),
        );
      return;
    case 'aws-secretsmanager': {
      const { CreateSecretCommand } = await import('@aws-sdk/client-secrets-manager');
      await smSdk().send(
        new CreateSecretCommand({ Name: `apps/${s.name}`, SecretString: JSON.stringify(fields) }),
      );
    }
  }
}

/** Every file of the stack's folder (state dir included): path → mode and bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await fs.stat(p);
        out.set(p, `${st.mode}:${(await fs.readFile(p)).toString('base64')}`);
      }
    }
  };
  await walk(dir);
  return out;
}

const standInOf = (kind: StoreKind) => (kind === 'vault-kv' ? vault : kind === 'aws-ssm' ? ssm : sm);

/** The stand-in's requests since `from` that concern the stack (its path, prefix or secret). */
async function requestsSince(kind: StoreKind, from: number, s: Stack): Promise<LoggedRequest[]> {
  const log = await standInOf(kind).log();
  return log.slice(from).filter((r) => `${r.path} ${r.body}`.includes(s.name));
}

/** Reads rekey.yaml as the schema sees it (the store section included). */
async function parsedConfig(s: Stack) {
  const text = await fs.readFile(s.config, 'utf8');
  const raw = parseDocument(text).toJS() as Record<string, unknown>;
  return { text, parsed: configSchema.parse(raw) };
}

const KINDS: StoreKind[] = ['vault-kv', 'aws-ssm', 'aws-secretsmanager'];

describe.each(KINDS)('rekey migrate --to %s', (kind) => {
  it('copies exactly the env values into the store, adds store: to rekey.yaml (bytes kept, backup), leaks nothing', async () => {
    const s = await makeStack();
    const logFrom = (await standInOf(kind).log()).length;
    const r = await migrate(s, ['--to', kind, ...destination(kind, s), '--yes']);
    expect(r.code, r.stderr).toBe(0);

    expect(await held(kind, s)).toEqual(s.values);
    const { text, parsed } = await parsedConfig(s);
    expect(text.startsWith(CONFIG)).toBe(true);
    expect(parsed.store?.type).toBe(kind);
    const backups = (await fs.readdir(s.dir)).filter((f) => f.startsWith('rekey.yaml.backup-'));
    expect(backups).toHaveLength(1);
    const backup = path.join(s.dir, backups[0]!);
    expect(await fs.readFile(backup, 'utf8')).toBe(CONFIG);
    expect((await fs.stat(backup)).mode & 0o777).toBe(0o640);
    expect((await fs.stat(s.config)).mode & 0o777).toBe(0o640);
    // The env file keeps its copies without --remove-from-env.
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(s.envText);
    // What the app must change: key names, never a value.
    expect(r.stderr).toContain('JWT_SECRET');
    expect(r.stderr).toMatch(
      kind === 'vault-kv'
        ? /with secret "secret\/data\/apps/
        : kind === 'aws-ssm'
          ? /get-parameters-by-path/
          : /get-secret-value/,
    );
    const audit = await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8');
    expect(JSON.parse(audit.trim().split('\n').at(-1)!)).toMatchObject({
      kind: 'migrate',
      outcome: 'recorded',
      secrets: [{ key: 'JWT_SECRET' }, { key: 'API_SECRET_KEY' }],
      store: expect.stringContaining(s.name),
    });

    // Canary: output, files written (rekey.yaml, its backup, the audit log), and every request to the
    // stand-in except the writes themselves.
    const requests = await requestsSince(kind, logFrom, s);
    expect(requests.some((q) => q.write)).toBe(true);
    const reads = requests.filter((q) => !q.write).map((q) => `${q.path} ${q.body}`);
    const texts = [r.stdout, r.stderr, text, await fs.readFile(backup, 'utf8'), audit, ...reads];
    const secrets = Object.values(s.values);
    record({
      kind: 'canary',
      suite: SUITE,
      scope: `migrate --to ${kind}: output, rekey.yaml and backup, audit log, stand-in reads`,
      values: secrets.length,
      places: texts.length,
      occurrences: leakOccurrences(secrets, texts),
    });
    expect(findLeak(secrets, texts)).toBeUndefined();
  });

  it('the next rotation runs in the store: new values there, the env file untouched, no value printed', async () => {
    const s = await makeStack();
    expect((await migrate(s, ['--to', kind, ...destination(kind, s), '--yes'])).code).toBe(0);
    const r = await rekey(s, ['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const now = (await held(kind, s)) ?? {};
    expect(now.JWT_SECRET).toEqual(expect.any(String));
    expect(now.JWT_SECRET).not.toBe(s.values.JWT_SECRET);
    expect(now.API_SECRET_KEY).not.toBe(s.values.API_SECRET_KEY);
    // The grace slot holds the value the app signed with before (written to the store, not the file).
    expect(now.JWT_SECRET_PREVIOUS).toBe(s.values.JWT_SECRET);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(s.envText);
    const secrets = [...Object.values(s.values), String(now.JWT_SECRET), String(now.API_SECRET_KEY)];
    expect(findLeak(secrets, [r.stdout, r.stderr])).toBeUndefined();
  });

  it('--dry-run shows the plan and changes nothing (no write request, files identical)', async () => {
    const s = await makeStack();
    const before = await snapshot(s.dir);
    const logFrom = (await standInOf(kind).log()).length;
    const r = await migrate(s, ['--to', kind, ...destination(kind, s), '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/write: JWT_SECRET, API_SECRET_KEY/);
    expect(r.stderr).toContain('dry run: nothing changed');
    expect((await requestsSince(kind, logFrom, s)).filter((q) => q.write)).toEqual([]);
    expect(await snapshot(s.dir)).toEqual(before);
    expect(await held(kind, s)).toBeUndefined();
    expect(findLeak(Object.values(s.values), [r.stdout, r.stderr])).toBeUndefined();
  });

  it('refuses to overwrite a different value already in the store without --force (names the key, not the value); --force overwrites', async () => {
    const s = await makeStack();
    const theirs = 'someoneElsesValue-9f8e7d6c5b4a3210';
    await preset(kind, s, { JWT_SECRET: theirs });
    const before = await snapshot(s.dir);
    const r = await migrate(s, ['--to', kind, ...destination(kind, s), '--yes', '--remove-from-env']);
    const unchanged =
      isDeepStrictEqual(await held(kind, s), { JWT_SECRET: theirs }) &&
      JSON.stringify([...(await snapshot(s.dir))]) === JSON.stringify([...before]);
    record({
      kind: 'bad-input',
      suite: SUITE,
      case: `migrate --to ${kind} over a different value already in the store`,
      exit: r.code,
      expected: 1,
      code: /ERR_\w+/.exec(r.stderr)?.[0] ?? 'none',
      unchanged,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_STORE_CONFLICT: .*different values for JWT_SECRET; nothing was changed/);
    expect(r.stderr).toContain('--force');
    expect(unchanged).toBe(true);
    expect(findLeak([...Object.values(s.values), theirs], [r.stdout, r.stderr])).toBeUndefined();

    const forced = await migrate(s, ['--to', kind, ...destination(kind, s), '--yes', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await held(kind, s)).toEqual(s.values);
  });

  it('--remove-from-env removes the keys once the store holds the same values, after a backup of the env file', async () => {
    const s = await makeStack();
    const r = await migrate(s, [
      '--to',
      kind,
      ...destination(kind, s),
      '--yes',
      '--remove-from-env',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      store: { type: kind },
      keys: { written: ['JWT_SECRET', 'API_SECRET_KEY'], absent: ['JWT_SECRET_PREVIOUS'] },
      removedFromEnv: true,
    });
    expect(findLeak(Object.values(s.values), [r.stdout, r.stderr])).toBeUndefined();
    expect(await held(kind, s)).toEqual(s.values);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe('# app env\nAPP_NAME=demo\nLOG_LEVEL=info\n');
    const backups = (await fs.readdir(s.dir)).filter((f) => f.startsWith('.env.production.backup-'));
    expect(backups).toHaveLength(1);
    expect(await fs.readFile(path.join(s.dir, backups[0]!), 'utf8')).toBe(s.envText);
    expect((await fs.stat(s.envFile)).mode & 0o777).toBe(0o600);
  });

  it('killed (kill -9) between the store write and the rekey.yaml write, a rerun converges', async () => {
    const s = await makeStack();
    const killed = await migrate(s, ['--to', kind, ...destination(kind, s), '--yes'], {
      REKEY_CRASH_AT: 'migrate-store',
    });
    const afterKill = await held(kind, s);
    const yamlUntouched = (await fs.readFile(s.config, 'utf8')) === CONFIG;
    const rerun = await migrate(s, ['--to', kind, ...destination(kind, s), '--yes']);
    const { parsed } = await parsedConfig(s);
    const converged =
      rerun.code === 0 && isDeepStrictEqual(await held(kind, s), s.values) && parsed.store?.type === kind;
    record({
      kind: 'crash',
      suite: SUITE,
      point: `migrate-store (${kind})`,
      target: kind,
      outcome: `store written, rekey.yaml ${yamlUntouched ? 'untouched' : 'CHANGED'}; rerun exit ${rerun.code}`,
      converged,
    });
    expect(killed.code).toBeNull(); // died of SIGKILL
    expect(afterKill).toEqual(s.values);
    expect(yamlUntouched).toBe(true);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain('already there with the same value: JWT_SECRET, API_SECRET_KEY');
    expect(converged).toBe(true);
  });
});

describe('rekey migrate: bad input changes nothing', () => {
  const CASES: Array<[string, (s: Stack) => string[], RegExp]> = [
    ['an unknown --to', () => ['--to', 'etcd'], /ERR_USAGE: --to: unknown store "etcd"/],
    [
      'a missing required destination option',
      () => ['--to', 'vault-kv', '--address', vault.url, '--token-file', tokenFile],
      /ERR_USAGE: --path is required with --to vault-kv/,
    ],
    [
      'an option of another store',
      (s) => ['--to', 'aws-ssm', ...destination('aws-ssm', s), '--path', 'x'],
      /ERR_USAGE: --path: not an option of --to aws-ssm/,
    ],
    [
      'an invalid destination option',
      () => ['--to', 'aws-ssm', '--prefix', 'no-slash', '--region', REGION],
      /ERR_USAGE: --prefix: must be a parameter path/,
    ],
    [
      'an unreachable store',
      (s) => [
        '--to',
        'vault-kv',
        '--address',
        'http://127.0.0.1:9',
        '--path',
        `apps/${s.name}`,
        '--token-file',
        tokenFile,
      ],
      /ERR_STORE_UNREACHABLE: /,
    ],
  ];
  it.each(CASES)('%s', async (name, args, expected) => {
    const s = await makeStack();
    const before = await snapshot(s.dir);
    const r = await migrate(s, [...args(s), '--yes']);
    const unchanged = JSON.stringify([...(await snapshot(s.dir))]) === JSON.stringify([...before]);
    const code = /ERR_\w+/.exec(r.stderr)?.[0] ?? 'none';
    record({
      kind: 'bad-input',
      suite: SUITE,
      case: `migrate: ${name}`,
      exit: r.code,
      expected: code === 'ERR_USAGE' ? 2 : 1,
      code,
      unchanged,
    });
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).toMatch(/\n {2}→ .+\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(code === 'ERR_USAGE' ? 2 : 1);
    expect(unchanged).toBe(true);
  });
});
