/**
 * The demo stack (demo/stack-setup.ts) for the benchmarks, with two choices the demo does not make:
 * - `alternating: true`: POSTGRES_PASSWORD uses `strategy: alternating` (login roles app_blue /
 *   app_green, members of bi_user, POSTGRES_USER switching between them; the admin connection is the
 *   throwaway server's superuser, its password added to the env file as PG_ADMIN_PASSWORD);
 * - the deploy started and stopped for you.
 * The rekey.yaml the demo writes is edited as YAML (not as text), so a change to the demo's config
 * either carries over or fails loudly here.
 */
import { spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isSeq, parseDocument } from 'yaml';
import { type DemoStack, setUpDemoStack } from '../demo/stack-setup.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/src/cli/main.js');

export interface BenchStack extends DemoStack {
  /** `bash scripts/deploy.sh <what>` in the stack's folder; resolves with its exit code. */
  deployScript(what: 'deploy' | 'stop'): Promise<number | null>;
  /** Stops the app, then the services; removes the folder. */
  tearDown(): Promise<void>;
}

/**
 * @example
 * const stack = await setUpBenchStack({ alternating: true });
 * await stack.deployScript('deploy');
 * await stack.tearDown();
 */
export async function setUpBenchStack(options: { alternating: boolean }): Promise<BenchStack> {
  const stack = await setUpDemoStack({ repo: REPO, keep: false });
  try {
    if (options.alternating) await useAlternatingRoles(stack);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const deployScript = (what: 'deploy' | 'stop') =>
    new Promise<number | null>((resolve) => {
      const child = spawn('bash', [path.join(REPO, 'scripts/deploy.sh'), what], {
        cwd: stack.dir,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.on('close', resolve);
    });
  return Object.assign(stack, {
    deployScript,
    async tearDown() {
      await deployScript('stop');
      await stack.stop();
    },
  });
}

export async function useAlternatingRoles(stack: DemoStack): Promise<void> {
  const file = path.join(stack.dir, 'rekey.yaml');
  const doc = parseDocument(await readFile(file, 'utf8'));
  const secrets = doc.get('secrets');
  if (!isSeq(secrets)) throw new Error('bench stack: rekey.yaml has no secrets list');
  const pgSecret = secrets.items.find((item) => isMap(item) && item.get('key') === 'POSTGRES_PASSWORD');
  if (!isMap(pgSecret)) throw new Error('bench stack: rekey.yaml has no POSTGRES_PASSWORD secret');
  pgSecret.set('user', 'bi_user');
  pgSecret.set('strategy', 'alternating');
  pgSecret.set('roles', doc.createNode(['app_blue', 'app_green'], { flow: true }));
  pgSecret.set('memberOf', 'bi_user');
  pgSecret.set('userKey', 'POSTGRES_USER');
  pgSecret.set(
    'admin',
    doc.createNode({ user: 'postgres', passwordKey: 'PG_ADMIN_PASSWORD' }, { flow: true }),
  );
  await writeFile(file, doc.toString({ lineWidth: 0 }));
  await appendFile(stack.envFile, `PG_ADMIN_PASSWORD=${stack.pg.superuserPassword}\n`, { mode: 0o600 });
}
