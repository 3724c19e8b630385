/**
 * The demo stack's store variants (`rekey demo --store vault-kv|aws-ssm|aws-secretsmanager`): the
 * demo stack (demo/stack-setup.ts) plus the store's stand-in (demo/stand-ins/main.ts) as its own
 * process, started and stopped with the stack. Every secret of the stack ({@link STORE_KEYS}) moves
 * from the env file into the store, and rekey.yaml rotates all five there; the app reads them from
 * the store at start (demo/app/store.ts), so the deploy command — the same rolling restart — is what
 * makes it read the new values. PostgreSQL runs on alternating login roles (a role has one password:
 * with a single role, a connection the app opens between the change and its redeploy is refused).
 * The Grafana stand-in reads its first admin password at its start only, and the deploy script reads
 * APP_HOST and APP_PORT: neither needs a secret from the env file. With `keep`, stop-demo.sh and
 * `.run/pids` list the stand-in beside the other servers.
 *
 * What differs per store is one small {@link StoreVariant}: the stand-in's arguments, the `store:`
 * section, the env file's lines naming the location, and how the demo reaches the store (with the
 * store's own seeder and adapter from src/stores/, the code `rekey migrate` and `rekey rotate` use).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, promises as fs, openSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { isMap, isSeq, parseDocument } from 'yaml';
import { envValues, parseEnv } from '../src/envfile/index.js';
import { writeFileAtomic } from '../src/lib/fsx.js';
import type { StoreSeeder } from '../src/stores/seed.js';
import { freePort } from './stack/ports.js';
import { asSuperuser, createLoginRole } from './stack/postgres-roles.js';
import {
  type DemoProcess,
  type DemoStack,
  processStarted,
  setUpDemoStack,
  waitFor,
  writeStopFiles,
} from './stack-setup.js';

export type DemoStoreType = 'vault-kv' | 'aws-ssm' | 'aws-secretsmanager';
export const DEMO_STORES: readonly DemoStoreType[] = ['vault-kv', 'aws-ssm', 'aws-secretsmanager'];

/** Each store's name for people. */
export const STORE_TITLES: Readonly<Record<DemoStoreType, string>> = {
  'vault-kv': 'Vault',
  'aws-ssm': 'SSM Parameter Store',
  'aws-secretsmanager': 'Secrets Manager',
};

/**
 * The keys that move from the env file into the store: every secret of the stack, its grace slots,
 * the PostgreSQL role the app logs in as (alternating roles: rekey writes it beside the password) and
 * the admin password rekey switches the roles with (read, never written).
 */
export const STORE_KEYS = [
  'JWT_SECRET',
  'JWT_SECRET_PREVIOUS',
  'API_SECRET_KEY',
  'API_SECRET_KEY_PREVIOUS',
  'POSTGRES_USER',
  'POSTGRES_PASSWORD',
  'PG_ADMIN_PASSWORD',
  'REDIS_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
  'DEMO_USER_PASSWORD',
] as const;

/** The secrets rekey rotates in the store: all five. */
const ROTATED = [
  'JWT_SECRET',
  'API_SECRET_KEY',
  'POSTGRES_PASSWORD',
  'REDIS_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
];

/** The stand-in's region, and the access key it accepts (a stand-in's: it checks no signature). */
const REGION = 'us-east-1';
const AWS_CREDENTIALS = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
const MOUNT = 'secret';
const SECRET_PATH = 'demo/app';
const SSM_PREFIX = '/demo/app/';
const SECRET_ID = 'demo/app';

export interface StoreDemoStack extends DemoStack {
  readonly store: {
    readonly type: DemoStoreType;
    /** The store's name for people: `Vault`, `SSM Parameter Store`, `Secrets Manager`. */
    readonly title: string;
    /** Where it is, one line for the --keep summary. */
    readonly where: string;
    /** What a shell command run by hand against the stack puts before it (`AWS_ACCESS_KEY_ID=… `). */
    readonly shellEnv: string;
    readonly url: string;
    /**
     * The environment rekey and the deploy run with: the caller's without its VAULT_* and AWS_*
     * settings (the demo never reaches a real store), plus what this stand-in needs.
     */
    env(): NodeJS.ProcessEnv;
    /** The fields the store holds now (for the demo's probes; never printed). */
    fields(): Promise<Map<string, string>>;
    /** The stand-in's request log (what the canary scan reads). */
    log(): Promise<Array<{ write: boolean; body: string; path: string }>>;
  };
}

/** What one store adds to the demo stack. */
interface StoreVariant {
  /** Writes what the stand-in reads at start into `run` (`.run/`); its arguments beyond `--port`. */
  standInArgs(run: string): Promise<string[]>;
  /** The `store:` line of rekey.yaml. */
  storeSection(url: string): string;
  /** The env file's lines naming the location (never a secret). */
  envLines(url: string): string[];
  where(url: string): string;
  /** Environment the stand-in's clients need (rekey and the app read it). */
  readonly env: NodeJS.ProcessEnv;
  seeder(url: string, run: string): Promise<StoreSeeder>;
  /** The store's values now. */
  reader(url: string, run: string): Promise<() => Promise<ReadonlyMap<string, string>>>;
  /** Whether the store can hold an empty value (SSM cannot: a parameter's value has 1 to 4096 characters). */
  readonly holdsEmpty: boolean;
}

const AWS_ENV: NodeJS.ProcessEnv = {
  AWS_ACCESS_KEY_ID: AWS_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: AWS_CREDENTIALS.secretAccessKey,
  AWS_REGION: REGION,
  // The SDK's documented switch for its Node 20 end-of-support warning.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

const VARIANTS: Readonly<Record<DemoStoreType, StoreVariant>> = {
  'vault-kv': {
    async standInArgs(run) {
      // The root token: a file, never an argument.
      const tokenFile = path.join(run, 'vault-token');
      await fs.writeFile(tokenFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
      return ['--token-file', tokenFile];
    },
    storeSection: (url) =>
      `store: { type: vault-kv, address: "${url}", mount: ${MOUNT}, path: ${SECRET_PATH}, tokenFile: .run/vault-token }`,
    envLines: (url) => [
      `VAULT_ADDR=${url}`,
      `VAULT_KV_MOUNT=${MOUNT}`,
      `VAULT_KV_PATH=${SECRET_PATH}`,
      'VAULT_TOKEN_FILE=.run/vault-token',
    ],
    where: (url) => `${url}, secret ${MOUNT}/${SECRET_PATH} (stand-in; token in .run/vault-token)`,
    env: {},
    holdsEmpty: true,
    async seeder(url, run) {
      const { vaultKvSeeder } = await import('../src/stores/vault-kv/seed.js');
      return vaultKvSeeder(vaultConfig(url, run), { env: {} });
    },
    async reader(url, run) {
      const { VaultKvStore } = await import('../src/stores/vault-kv/store.js');
      const store = await VaultKvStore.open(vaultConfig(url, run), { env: {} });
      return async () => (await store.read()).values;
    },
  },
  'aws-ssm': {
    standInArgs: async () => ['--region', REGION],
    storeSection: (url) =>
      `store: { type: aws-ssm, prefix: ${SSM_PREFIX}, region: ${REGION}, endpoint: "${url}" }`,
    envLines: (url) => [`AWS_SSM_PREFIX=${SSM_PREFIX}`, `AWS_REGION=${REGION}`, `AWS_ENDPOINT_URL=${url}`],
    where: (url) => `${url}, parameters ${SSM_PREFIX}* (stand-in; any access key id)`,
    env: AWS_ENV,
    holdsEmpty: false,
    async seeder(url) {
      const { awsSsmSeeder } = await import('../src/stores/aws-ssm/seed.js');
      return awsSsmSeeder(ssmConfig(url), { credentials: AWS_CREDENTIALS });
    },
    async reader(url) {
      const { AwsSsmStore } = await import('../src/stores/aws-ssm/store.js');
      const store = new AwsSsmStore(ssmConfig(url), { credentials: AWS_CREDENTIALS });
      return async () => (await store.read()).values;
    },
  },
  'aws-secretsmanager': {
    standInArgs: async () => ['--region', REGION],
    storeSection: (url) =>
      `store: { type: aws-secretsmanager, secretId: ${SECRET_ID}, region: ${REGION}, endpoint: "${url}" }`,
    envLines: (url) => [`AWS_SECRET_ID=${SECRET_ID}`, `AWS_REGION=${REGION}`, `AWS_ENDPOINT_URL=${url}`],
    where: (url) => `${url}, secret ${SECRET_ID} (stand-in; any access key id)`,
    env: AWS_ENV,
    holdsEmpty: true,
    async seeder(url) {
      const { awsSecretsManagerSeeder } = await import('../src/stores/aws-secretsmanager/seed.js');
      return awsSecretsManagerSeeder(secretsManagerConfig(url), { credentials: AWS_CREDENTIALS });
    },
    async reader(url) {
      const { AwsSecretsManagerStore } = await import('../src/stores/aws-secretsmanager/store.js');
      const store = new AwsSecretsManagerStore(secretsManagerConfig(url), { credentials: AWS_CREDENTIALS });
      return async () => (await store.read()).values;
    },
  },
};

const vaultConfig = (url: string, run: string) =>
  ({
    type: 'vault-kv',
    address: url,
    mount: MOUNT,
    path: SECRET_PATH,
    tokenFile: path.join(run, 'vault-token'),
  }) as const;
const ssmConfig = (url: string) =>
  ({ type: 'aws-ssm', prefix: SSM_PREFIX, region: REGION, endpoint: url }) as const;
const secretsManagerConfig = (url: string) =>
  ({ type: 'aws-secretsmanager', secretId: SECRET_ID, region: REGION, endpoint: url }) as const;

/** The caller's environment without settings that would point a client at a real store. */
function withoutStoreSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^(AWS|VAULT)_/.test(k)));
}

/**
 * @example
 * const stack = await setUpStoreDemoStack({ repo, keep: false, store: 'aws-ssm' });
 * await stack.stop(); // the stand-in, the services, the folder
 */
export async function setUpStoreDemoStack(options: {
  repo: string;
  keep: boolean;
  store: DemoStoreType;
}): Promise<StoreDemoStack> {
  const variant = VARIANTS[options.store];
  const stack = await setUpDemoStack({ repo: options.repo, keep: options.keep });
  const stopBase = stack.stop.bind(stack);
  let standIn: ChildProcess | undefined;
  const stopStandIn = async () => {
    if (standIn === undefined || standIn.exitCode !== null || standIn.signalCode !== null) return;
    const exited = new Promise((resolve) => standIn?.once('exit', resolve));
    standIn.kill('SIGTERM');
    await exited;
  };
  try {
    const run = path.join(stack.dir, '.run');
    const args = await variant.standInArgs(run);
    const port = await freePort();
    const log = openSync(path.join(run, 'stand-in.log'), 'a', 0o600);
    standIn = spawn(
      process.execPath,
      [
        path.join(options.repo, 'dist/demo/stand-ins/main.js'),
        options.store,
        ...args,
        '--port',
        String(port),
      ],
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', log, log], detached: true },
    );
    closeSync(log);
    if (options.keep) standIn.unref();
    const url = `http://127.0.0.1:${port}`;
    // The control API: the same route on every stand-in, no credentials.
    await waitFor(`${url}/__stand-in/log`);

    // The secrets move from the env file into the store; the env file says where they are.
    const text = await fs.readFile(stack.envFile, 'utf8');
    const values = envValues(parseEnv(text));
    await useAlternatingRoles(stack, values.get('POSTGRES_PASSWORD') ?? '');
    values.set('POSTGRES_USER', FIRST_ROLE);
    values.set('PG_ADMIN_PASSWORD', stack.pg.superuserPassword);
    const seeder = await variant.seeder(url, run);
    await seeder.check();
    await seeder.read([...STORE_KEYS]);
    const moving = STORE_KEYS.map((k) => [k, values.get(k) ?? ''] as const).filter(
      ([, v]) => v !== '' || variant.holdsEmpty,
    );
    await seeder.write(Object.fromEntries(moving));
    const moved = new Set<string>(STORE_KEYS);
    const kept = text.split('\n').filter((line) => !moved.has(line.split('=')[0] ?? ''));
    // The env file still holds the other services' passwords: replaced atomically, 0600.
    await writeFileAtomic(
      stack.envFile,
      [
        kept.join('\n').trimEnd(),
        `# The secrets (${STORE_KEYS.join(', ')}) live in ${STORE_TITLES[options.store]} (the app reads them at start)`,
        ...variant.envLines(url),
        '',
      ].join('\n'),
      { mode: 0o600, forceMode: true },
    );
    await fs.writeFile(
      path.join(stack.dir, 'rekey.yaml'),
      await storeStackConfig(stack.dir, variant.storeSection(url), options.store),
    );
    // stop-demo.sh (--keep) stops the stand-in too, by pid and start time like the other servers.
    const pid = standIn.pid ?? -1;
    const servers: DemoProcess[] = [
      { name: options.store, pid, started: processStarted(pid), signal: 'TERM' },
      ...stack.servers,
    ];
    await writeStopFiles(options.repo, stack.dir, servers);
    const read = await variant.reader(url, run);
    return Object.assign(stack, {
      servers,
      initial: { ...stack.initial, PG_ADMIN_PASSWORD: stack.pg.superuserPassword },
      rotated: ROTATED,
      store: {
        type: options.store,
        title: STORE_TITLES[options.store],
        where: variant.where(url),
        shellEnv: Object.entries(variant.env)
          .filter(([k]) => k.startsWith('AWS_ACCESS') || k.startsWith('AWS_SECRET'))
          .map(([k, v]) => `${k}=${v} `)
          .join(''),
        url,
        env: () => ({ ...withoutStoreSettings(process.env), ...variant.env }),
        fields: async () => new Map(await read()),
        async log() {
          const res = await fetch(`${url}/__stand-in/log`, { signal: AbortSignal.timeout(5000) });
          return (await res.json()) as Array<{ write: boolean; body: string; path: string }>;
        },
      },
      async stop() {
        await stopStandIn();
        await stopBase();
      },
    });
  } catch (error) {
    await stopStandIn().catch(() => {});
    await stack.stop().catch(() => {});
    throw error;
  }
}

/** The application role (owns the tables) and the login role the app starts on. */
const APP_ROLE = 'bi_user';
const FIRST_ROLE = 'app_green';

/**
 * The app logs in as app_green (the demo's first password, a member of bi_user so it shares its
 * grants) instead of bi_user, whose password is removed: the owner role is no login, so no password
 * from before a rotation keeps working once both login roles had a new one.
 */
async function useAlternatingRoles(stack: DemoStack, password: string): Promise<void> {
  await createLoginRole(stack.pg, { name: FIRST_ROLE, password });
  await asSuperuser(stack.pg, async (c) => {
    await c.query(`GRANT ${pg.escapeIdentifier(APP_ROLE)} TO ${pg.escapeIdentifier(FIRST_ROLE)}`);
    await c.query(`ALTER ROLE ${pg.escapeIdentifier(APP_ROLE)} PASSWORD NULL`);
  });
}

/**
 * rekey.yaml of a store variant: the env-file demo's (all five secrets, the same deploy, session purge
 * and checks), edited as YAML so a change there carries over: `store:` instead of `envFile:`, and
 * PostgreSQL on two alternating login roles (app_green, then app_blue, members of bi_user; the admin
 * connection the throwaway server's superuser) — a role has one password, so with a single role a
 * connection the app opens between the change and its redeploy would be refused, and the store
 * variants claim 0 failed requests under traffic.
 */
async function storeStackConfig(dir: string, storeSection: string, type: DemoStoreType): Promise<string> {
  const doc = parseDocument(await fs.readFile(path.join(dir, 'rekey.yaml'), 'utf8'));
  doc.delete('envFile');
  const store = parseDocument(storeSection).get('store');
  doc.set('store', store);
  doc.set('stack', `demo-${type}`);
  const secrets = doc.get('secrets');
  const pgSecret = isSeq(secrets)
    ? secrets.items.find((item) => isMap(item) && item.get('key') === 'POSTGRES_PASSWORD')
    : undefined;
  if (!isMap(pgSecret)) throw new Error('demo: rekey.yaml has no POSTGRES_PASSWORD secret');
  pgSecret.set('user', FIRST_ROLE);
  pgSecret.set('strategy', 'alternating');
  pgSecret.set('roles', doc.createNode(['app_blue', FIRST_ROLE], { flow: true }));
  pgSecret.set('memberOf', APP_ROLE);
  pgSecret.set('userKey', 'POSTGRES_USER');
  pgSecret.set(
    'admin',
    doc.createNode({ user: 'postgres', passwordKey: 'PG_ADMIN_PASSWORD' }, { flow: true }),
  );
  doc.commentBefore = ` The demo stack, ${type} variant: every secret in the store.`;
  return doc.toString({ lineWidth: 0 });
}
