/**
 * `npm run bench -- rotate --stores`: the rotate benchmark's row per store. The same stack (JWT_SECRET
 * and API_SECRET_KEY, a no-op deploy) with its secrets in each store — the env file, then Vault KV v2,
 * SSM Parameter Store and Secrets Manager, each against its stand-in started as its own process
 * (demo/stand-ins/main.ts) and reached through the real client (fetch for Vault, the AWS SDK v3) —
 * rotated `--runs` times with `rekey rotate --trigger scheduled --json`. Wall time is process start to
 * exit; the store's own part is the `commit` step (the write) beside the whole of rekey's work.
 * The stand-ins answer on loopback without latency: the rows compare rekey's cost per store, not the
 * network to a real Vault or AWS region.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { makeOwnedDir, removeOwnedDir } from '../src/lib/owned-dir.js';
import { rekey, rotateArgs, stepsOf } from './cli.js';
import { describeMachine, machineLine } from './machine.js';
import { say, table, writeResults } from './report.js';
import { REPO } from './stack.js';
import { median, round } from './stats.js';

export const STORES = ['env-file', 'vault-kv', 'aws-ssm', 'aws-secretsmanager'] as const;
export type StoreName = (typeof STORES)[number];

export interface RotateStoresOptions {
  readonly runs: number;
  /** Where the results go (default bench/results); the test's quick run writes to a temp folder. */
  readonly out?: string;
}

interface StoreRun {
  readonly wallMs: number;
  readonly commitMs: number;
  readonly deployMs: number;
  readonly ownMs: number;
}

/** The stand-ins' fake AWS identity: the SDK's default credential chain reads it from the env. */
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDBENCHSTANDIN',
  AWS_SECRET_ACCESS_KEY: 'bench-stand-in-secret',
  AWS_REGION: 'eu-west-1',
};
const REGION = AWS_ENV.AWS_REGION;
// The SDK's documented switch for its Node 20 end-of-support warning (as src/stores/aws/clients.ts),
// for the seeding clients below: the benchmark's stderr stays its progress.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A stand-in as its own process; resolves once it printed its URL. */
async function startStandIn(
  service: Exclude<StoreName, 'env-file'>,
  args: readonly string[],
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(REPO, 'dist/demo/stand-ins/main.js'), service, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${service} stand-in exited ${code}`)));
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  lines.close();
  return { url, child };
}

async function stopStandIn(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The stack's folder for one store: rekey.yaml, and the env file or the store seeded with the first
 * values; the stand-in started (stopped by `stop`).
 */
async function setUpStoreStack(
  store: StoreName,
  dir: string,
): Promise<{ env: NodeJS.ProcessEnv; stop: () => Promise<void> }> {
  const initial = {
    JWT_SECRET: randomBytes(64).toString('base64url'),
    API_SECRET_KEY: randomBytes(32).toString('base64url'),
  };
  const secrets = `secrets:
  - { key: JWT_SECRET, type: jwt }
  - { key: API_SECRET_KEY, type: api-key }
deploy: { command: "true", timeout: 30s }
`;
  const yaml = (section: string) =>
    writeFile(
      path.join(dir, 'rekey.yaml'),
      `# rotate benchmark, ${store}\n${section}\nstack: bench\n${secrets}`,
    );
  await writeFile(path.join(dir, '.gitignore'), '.env\n.env.backup-*\n.rekey/\nvault-token\n');
  const env = { PATH: process.env.PATH ?? '', HOME: dir };
  switch (store) {
    case 'env-file': {
      await writeFile(
        path.join(dir, '.env'),
        `JWT_SECRET=${initial.JWT_SECRET}\nAPI_SECRET_KEY=${initial.API_SECRET_KEY}\n`,
        { mode: 0o600 },
      );
      await yaml('envFile: .env');
      return { env, stop: async () => {} };
    }
    case 'vault-kv': {
      const token = randomBytes(24).toString('base64url');
      const tokenFile = path.join(dir, 'vault-token');
      await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
      const { url, child } = await startStandIn('vault-kv', ['--token-file', tokenFile]);
      const res = await fetch(`${url}/v1/secret/data/bench/rotate`, {
        method: 'POST',
        headers: { 'x-vault-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ data: initial }),
      });
      if (!res.ok) throw new Error(`seeding the Vault stand-in: HTTP ${res.status}`);
      await res.body?.cancel();
      await yaml(
        `store: { type: vault-kv, address: "${url}", mount: secret, path: bench/rotate, tokenFile: vault-token }`,
      );
      return { env, stop: () => stopStandIn(child) };
    }
    case 'aws-ssm': {
      const { url, child } = await startStandIn('aws-ssm', ['--region', REGION]);
      const ssm = new SSMClient({ region: REGION, endpoint: url, credentials: awsCredentials() });
      for (const [key, value] of Object.entries(initial))
        await ssm.send(
          new PutParameterCommand({ Name: `/bench/rotate/${key}`, Value: value, Type: 'SecureString' }),
        );
      ssm.destroy();
      await yaml(`store: { type: aws-ssm, prefix: /bench/rotate/, region: ${REGION}, endpoint: "${url}" }`);
      return { env: { ...env, ...AWS_ENV }, stop: () => stopStandIn(child) };
    }
    case 'aws-secretsmanager': {
      const { url, child } = await startStandIn('aws-secretsmanager', ['--region', REGION]);
      const sm = new SecretsManagerClient({ region: REGION, endpoint: url, credentials: awsCredentials() });
      await sm.send(new CreateSecretCommand({ Name: 'bench/rotate', SecretString: JSON.stringify(initial) }));
      sm.destroy();
      await yaml(
        `store: { type: aws-secretsmanager, secretId: bench/rotate, region: ${REGION}, endpoint: "${url}" }`,
      );
      return { env: { ...env, ...AWS_ENV }, stop: () => stopStandIn(child) };
    }
  }
}

const awsCredentials = () => ({
  accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID,
  secretAccessKey: AWS_ENV.AWS_SECRET_ACCESS_KEY,
});

async function benchStore(store: StoreName, runs: number): Promise<StoreRun[]> {
  const dir = await makeOwnedDir(`rekey-bench-${store}-`, {
    base: process.env.REKEY_STACK_TMPDIR ?? os.tmpdir(),
  });
  const out: StoreRun[] = [];
  let stand: { env: NodeJS.ProcessEnv; stop: () => Promise<void> } | undefined;
  try {
    stand = await setUpStoreStack(store, dir);
    for (let i = 0; i < runs; i++) {
      const run = await rekey(rotateArgs(`BENCH-${store}-${i + 1}`), dir, stand.env);
      if (run.code !== 0)
        throw new Error(`${store}: rotation ${i + 1} exited ${run.code}: ${run.stderr.slice(-2000)}`);
      const steps = stepsOf(run.json);
      const sum = (id: string) => steps.filter((s) => s.id === id).reduce((a, s) => a + s.ms, 0);
      const deployMs = sum('deploy');
      out.push({ wallMs: run.wallMs, commitMs: sum('commit'), deployMs, ownMs: run.wallMs - deployMs });
      say(`  ${store} rotation ${i + 1}: ${Math.round(run.wallMs)} ms (commit ${sum('commit')} ms)`);
    }
  } finally {
    await stand?.stop();
    await removeOwnedDir(dir);
  }
  return out;
}

/**
 * @example
 * await benchRotateStores({ runs: 5 });
 */
export async function benchRotateStores(opts: RotateStoresOptions): Promise<string[]> {
  const machine = await describeMachine();
  const results: Array<{ store: StoreName; runs: StoreRun[] }> = [];
  for (const store of STORES) results.push({ store, runs: await benchStore(store, opts.runs) });
  const rows = results.map(({ store, runs }) => ({
    store,
    wallMs: round(median(runs.map((r) => r.wallMs))),
    ownMs: round(median(runs.map((r) => r.ownMs))),
    commitMs: round(median(runs.map((r) => r.commitMs))),
  }));
  const ms = (values: number[]) => values.map((x) => Math.round(x)).join(', ');
  const md = [
    '# rotate, per store: JWT_SECRET and API_SECRET_KEY in each store',
    '',
    machineLine(machine),
    '',
    `\`rekey rotate --trigger scheduled --yes --json\` of JWT_SECRET and API_SECRET_KEY with a no-op deploy (\`true\`), ${opts.runs} rotation(s) in a row per store. The managed stores run as their stand-ins (demo/stand-ins/, each its own process on loopback, no added latency), reached through the real clients: the rows compare rekey's cost per store, not a network. Wall time is process start to exit (Node start-up included); the commit is the store write (Vault: one CAS write; SSM: a put and label moves per key; Secrets Manager: the stage move).`,
    '',
    table(
      [
        'store',
        'rotation, wall (median)',
        "rekey's own work (wall − deploy)",
        'commit step',
        'runs, wall (ms)',
      ],
      results.map(({ store, runs }, i) => {
        const row = rows[i] as (typeof rows)[number];
        return [
          store,
          `${row.wallMs} ms`,
          `${row.ownMs} ms`,
          `${row.commitMs} ms`,
          ms(runs.map((r) => r.wallMs)),
        ];
      }),
    ),
    '',
  ].join('\n');
  const files = await writeResults(
    'rotate-stores',
    { machine, options: opts, median: rows, results },
    md,
    opts.out,
  );
  say(`wrote ${files.join(', ')}`);
  return files;
}
