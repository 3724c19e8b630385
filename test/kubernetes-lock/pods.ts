/**
 * Two "pods" against one cluster, for the lock tests: the Kubernetes API stand-in run as its own
 * process (demo/stand-ins/main.ts), a Secret holding a jwt + api-key stack, and per pod its own
 * folder (rekey.yaml, kubeconfig, state directory: two pods, two disks) from which the built CLI runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CLI, type CliResult } from '../engine/stack.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');
const TOKEN = 'stand-in-token-lock-e2e';
export const LEASE = 'rekey-bi-secrets';

/** The values the Secret holds before any rotation (canaries). */
export const INITIAL: Readonly<Record<string, string>> = {
  JWT_SECRET: 'jwt-canary-lock-0123456789abcdefghijklmnopqrstuvwxyzABCDEF',
  API_SECRET_KEY: 'api-canary-lock-0123456789abcdefghijklmnopqrstuv',
  DATABASE_HOST: 'db.internal',
};

export interface Pod {
  readonly name: string;
  readonly dir: string;
  /** Runs the CLI to its end. */
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Starts the CLI in its own process group (as a pod's container: killable as a whole). */
  start(args: readonly string[], env?: NodeJS.ProcessEnv): RunningCli;
  /** The files in its state directory (journal, history), relative. */
  stateFiles(): Promise<string[]>;
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  /** kill -9 of the whole process group, as a node losing the pod. */
  kill(): Promise<void>;
}

export interface Cluster {
  readonly url: string;
  /** A pod's folder; `unattended` marks both secrets for `rekey schedule` (no retry). */
  pod(name: string, options?: { unattended?: boolean }): Promise<Pod>;
  /** The Secret's data, decoded, and its resourceVersion. */
  secret(): Promise<{ data: Record<string, string>; resourceVersion: string }>;
  lease(): Promise<
    { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } | undefined
  >;
  /** The stand-in's request log. */
  log(): Promise<Array<{ op: string; status: number; body: string; method: string; path: string }>>;
  stop(): Promise<void>;
}

async function control(url: string, route: string, body?: unknown): Promise<Response> {
  const r = await fetch(`${url}/__stand-in/${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!r.ok && r.status !== 204) throw new Error(`stand-in control ${route}: ${r.status}`);
  return r;
}

/** Every CLI started detached and not yet ended (killed by {@link killStarted} after a test). */
const started = new Set<ChildProcess>();

/** kill -9 of every CLI a test started and left running (a failed test must not leave paused processes). */
export function killStarted(): void {
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  started.clear();
}

function startCliIn(
  dir: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  detached: boolean,
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: dir,
    env,
    detached,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b) => {
    stdout += b;
  });
  child.stderr?.on('data', (b) => {
    stderr += b;
  });
  if (detached) started.add(child);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    child,
    done,
    async kill() {
      process.kill(-child.pid!, 'SIGKILL');
      await done;
    },
  };
}

/**
 * Starts the stand-in and seeds the Secret.
 *
 * @example
 * const c = await startCluster({ leaseDuration: '5s' });
 * const a = await c.pod('pod-a'); const b = await c.pod('pod-b');
 */
export async function startCluster(options: { leaseDuration?: string } = {}): Promise<Cluster> {
  const home = await tempDir('rekey-k8s-lock-cluster-');
  await fs.writeFile(path.join(home, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, [STAND_IN, 'kubernetes', '--token-file', path.join(home, 'token')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in kubernetes exited ${code}`)));
  });
  const url = (JSON.parse(line) as { url: string }).url;
  await control(url, 'kubernetes/secret', { namespace: 'bi', name: 'bi-secrets', data: INITIAL });
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: stand-in',
    '    cluster:',
    `      server: ${url}`,
    '      insecure-skip-tls-verify: true',
    'users:',
    '  - name: rekey',
    '    user:',
    `      token: ${TOKEN}`,
    'contexts:',
    '  - name: stand-in',
    '    context: { cluster: stand-in, user: rekey, namespace: bi }',
    'current-context: stand-in',
    '',
  ].join('\n');
  const api = async (p: string) => {
    const r = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return r.status === 404 ? undefined : ((await r.json()) as Record<string, unknown>);
  };
  return {
    url,
    async pod(name, podOptions = {}) {
      const unattended = podOptions.unattended ? ', unattended: true' : '';
      const dir = await tempDir(`rekey-k8s-lock-${name}-`);
      await fs.writeFile(path.join(dir, 'kubeconfig'), kubeconfig, { mode: 0o600 });
      await fs.writeFile(
        path.join(dir, 'rekey.yaml'),
        [
          `stack: bi`,
          `store: { type: kubernetes, namespace: bi, name: bi-secrets${options.leaseDuration ? `, lease: { duration: ${options.leaseDuration} }` : ''} }`,
          'secrets:',
          `  - { key: JWT_SECRET, type: jwt${unattended} }`,
          `  - { key: API_SECRET_KEY, type: api-key${unattended} }`,
          'deploy: { command: "true", rollback: "true" }',
          'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 0, maxFailures: 3 }',
          '',
        ].join('\n'),
      );
      const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
        ...process.env,
        NO_COLOR: '1',
        KUBECONFIG: path.join(dir, 'kubeconfig'),
        ...extra,
      });
      return {
        name,
        dir,
        run: (args, extra) => startCliIn(dir, args, env(extra), false).done,
        start: (args, extra) => startCliIn(dir, args, env(extra), true),
        async stateFiles() {
          const state = path.join(dir, '.rekey');
          if (!existsSync(state)) return [];
          return (await fs.readdir(state, { recursive: true })).map(String).sort();
        },
      };
    },
    async secret() {
      const s = (await (await control(url, 'kubernetes/secret?namespace=bi&name=bi-secrets')).json()) as {
        data: Record<string, string>;
        resourceVersion: string;
      };
      return s;
    },
    async lease() {
      const l = await api(`/apis/coordination.k8s.io/v1/namespaces/bi/leases/${LEASE}`);
      return l?.spec as
        | { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number }
        | undefined;
    },
    async log() {
      return (await (await control(url, 'log')).json()) as Awaited<ReturnType<Cluster['log']>>;
    },
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** Waits until `file` exists (a paused rekey wrote it), or throws after `ms`. */
export async function waitForFile(file: string, ms = 60_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) return text.trim();
    if (Date.now() > deadline) throw new Error(`${path.basename(file)} never appeared`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
