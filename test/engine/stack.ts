/**
 * A throwaway stack for the engine tests: an env file in a temp git-less folder, rekey.yaml with the
 * file-held types and two scriptable services (test/fixtures/fake-service.mjs: one single-password,
 * one overlap), a deploy script that records what it deployed, and helpers to run the built CLI and
 * to check that every service accepts exactly what the env file holds.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const FAKE_SERVICE = path.join(ROOT, 'test/fixtures/fake-service.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const INITIAL = {
  JWT_SECRET: 'jwt-old-Qm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg',
  API_SECRET_KEY: 'api-old-ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVm',
  SINGLE_PASSWORD: 'singleOldPw7Kq2Lm9Xz4Rt6Vb8Nw3Hy5',
  OVERLAP_PASSWORD: 'overlapOldPw3Jd8Fh2Ks6Lp9Qw4Er7T',
} as const;

export const ENV_TEXT = `# production settings
APP_NAME=bi-api
JWT_SECRET=${INITIAL.JWT_SECRET}
JWT_SECRET_PREVIOUS=
API_SECRET_KEY="${INITIAL.API_SECRET_KEY}"   # quoted on purpose
SINGLE_PASSWORD=${INITIAL.SINGLE_PASSWORD}
export OVERLAP_PASSWORD=${INITIAL.OVERLAP_PASSWORD}
LOG_LEVEL=info
`;

/**
 * Starts the built CLI in `cwd` with `env`, collecting its output.
 *
 * @example
 * const { done } = startCli(['plan', '--json'], dir, process.env);
 */
export function startCli(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const opts: SpawnOptions = { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] };
  const child = spawn(process.execPath, [CLI, ...args], opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b) => {
    stdout += b;
  });
  child.stderr?.on('data', (b) => {
    stderr += b;
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

export interface Stack {
  dir: string;
  envFile: string;
  stateDir: string;
  run(args: string[], options?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult>;
  start(
    args: string[],
    options?: { env?: Record<string, string> },
  ): { child: ReturnType<typeof spawn>; done: Promise<CliResult> };
  env(): Promise<Map<string, string>>;
  accepted(key: 'SINGLE_PASSWORD' | 'OVERLAP_PASSWORD'): Promise<string[]>;
  faults(f: Record<string, string>): Promise<void>;
  /** Throws unless every service accepts exactly what the env file holds. */
  assertConsistent(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface StackOptions {
  deploy?: string | false;
  rollback?: string;
  verify?: string;
  extraConfig?: string;
  deployTimeout?: string;
}

/**
 * `makeStack` for a test file: every stack it makes is cleaned up after each test.
 *
 * @example
 * const stack = useStacks();
 * it('rotates', async () => { const s = await stack(); ... });
 */
export function useStacks(): (options?: StackOptions) => Promise<Stack> {
  let stacks: Stack[] = [];
  afterEach(async () => {
    await Promise.all(stacks.map((s) => s.cleanup()));
    stacks = [];
  });
  return async (options) => {
    const s = await makeStack(options);
    stacks.push(s);
    return s;
  };
}

export async function makeStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await makeOwnedDir('rekey-engine-');
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, ENV_TEXT, { mode: 0o600 });
  await fs.writeFile(
    path.join(dir, 'service-SINGLE_PASSWORD.json'),
    JSON.stringify({ mode: 'single', accepted: [INITIAL.SINGLE_PASSWORD] }),
  );
  await fs.writeFile(
    path.join(dir, 'service-OVERLAP_PASSWORD.json'),
    JSON.stringify({ mode: 'overlap', accepted: [INITIAL.OVERLAP_PASSWORD] }),
  );
  await fs.writeFile(
    path.join(dir, 'deploy.sh'),
    [
      '#!/bin/sh',
      '# Test deploy: fails, hangs or prints on demand (deploy-faults file), records each run.',
      'mode=$(cat deploy-fault 2>/dev/null || true)',
      'echo "deploying $1"',
      'echo "$1 $(date +%s%N)" >> deploys.log',
      '[ "$mode" = "fail-$1" ] && { echo "boom: deploy failed"; exit 7; }',
      '[ "$mode" = "hang-$1" ] && sleep 600',
      '[ "$mode" = "leak-$1" ] && { grep -h PASSWORD .env.production; exit 1; }',
      '[ "$mode" = "slow-$1" ] && sleep 5', // long enough for a signal or a second rekey to arrive under load
      'exit 0',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const deploy =
    options.deploy === false
      ? ''
      : `deploy:
  command: ${options.deploy ?? 'sh deploy.sh deploy'}
  rollback: ${options.rollback ?? 'sh deploy.sh rollback'}
  timeout: ${options.deployTimeout ?? '20s'}
`;
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key }
  - { key: SINGLE_PASSWORD, type: command, run: "node ${FAKE_SERVICE}", overlap: false }
  - { key: OVERLAP_PASSWORD, type: command, run: "node ${FAKE_SERVICE}", overlap: true }
${deploy}verifyPolicy: { deadline: 3s, attemptTimeout: 1s, successes: 1 }
${options.verify ?? ''}
${options.extraConfig ?? ''}
`,
  );
  const baseEnv = { ...process.env, NO_COLOR: '1' } as Record<string, string>;
  delete baseEnv.REKEY_CRASH_AT;
  const start: Stack['start'] = (args, o = {}) => startCli(args, dir, { ...baseEnv, ...o.env });
  const stack: Stack = {
    dir,
    envFile,
    stateDir: path.join(dir, '.rekey'),
    async run(args, o = {}) {
      const { child, done } = start(args, o);
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
      const r = await done;
      clearTimeout(timer);
      return r;
    },
    start,
    async env() {
      const text = await fs.readFile(envFile, 'utf8');
      const out = new Map<string, string>();
      for (const line of text.split('\n')) {
        const m = /^(?:export )?([A-Z_]+)=("?)([^"#\s]*)\2/.exec(line);
        if (m) out.set(m[1]!, m[3]!);
      }
      return out;
    },
    async accepted(key) {
      return JSON.parse(await fs.readFile(path.join(dir, `service-${key}.json`), 'utf8')).accepted;
    },
    async faults(f) {
      await fs.writeFile(path.join(dir, 'faults.json'), JSON.stringify(f));
    },
    async assertConsistent() {
      const env = await stack.env();
      for (const key of ['SINGLE_PASSWORD', 'OVERLAP_PASSWORD'] as const) {
        const acc = await stack.accepted(key);
        if (acc.length !== 1 || acc[0] !== env.get(key)) {
          throw new Error(
            `${key}: service accepts ${acc.length} value(s), ${acc.includes(env.get(key)!) ? 'including' : 'NOT including'} the env file's`,
          );
        }
      }
      if (existsSync(path.join(dir, '.rekey', 'journal.json'))) throw new Error('journal still pending');
    },
    async cleanup() {
      await removeOwnedDir(dir);
    },
  };
  return stack;
}

/** Every file under a folder, recursively, except the env file and its backups. */
export async function writtenFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  };
  await walk(dir);
  return out.filter((f) => !/\.env\.production(\.backup-.*)?$/.test(f));
}
