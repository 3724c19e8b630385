/**
 * A Kubernetes stack for the end-to-end tests: the Kubernetes API stand-in (demo/stand-ins/main.ts)
 * run as its own process with a kubeconfig file pointing at it, a Secret holding a jwt + api-key
 * stack's values (file-only secrets: no database needed), a Deployment and a StatefulSet, a tiny HTTP
 * server for the verify check, and the built CLI run with `KUBECONFIG` set.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RbacRule, TemplateChange } from '../../demo/stand-ins/kubernetes.js';
import { connectKube, MERGE_PATCH } from '../../src/lib/kube.js';
import { CLI, type CliResult, startCli } from '../engine/stack.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');

export const NAMESPACE = 'bi';
export const SECRET = 'bi-secrets';
export const WORKLOADS = ['deployment/bi-api', 'statefulset/bi-worker'] as const;
export const KEYS = ['JWT_SECRET', 'API_SECRET_KEY'] as const;
/** The values the Secret holds before the first rotation (canaries: scanned for everywhere). */
export const INITIAL: Readonly<Record<string, string>> = {
  JWT_SECRET: 'jwt-k8s-canary-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG',
  API_SECRET_KEY: 'api-k8s-canary-0123456789abcdefghijklmnopqrstuvw',
  DATABASE_HOST: 'db.internal',
};
const TOKEN = 'k8s-token-canary-e2e-7d2a';

/** One request as the stand-in logged it. */
export interface LoggedRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly op: string;
  readonly write: boolean;
  readonly status: number;
  readonly body: string;
  readonly fault?: string;
}

export interface KubeStack {
  readonly dir: string;
  readonly url: string;
  readonly standIn: ChildProcess;
  /** Every CLI result so far (the canary scans their output). */
  readonly results: CliResult[];
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  start(args: readonly string[], env?: NodeJS.ProcessEnv): ReturnType<typeof startCli>;
  /**
   * Runs the CLI in a process group of its own until it reaches `point` (REKEY_PAUSE_AT), then kills
   * the whole group with SIGKILL, as a machine dies: nothing is reaped, nothing cleans up.
   */
  killAt(point: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** The Secret's data (decoded) and resourceVersion now, read through the stand-in's control API. */
  secret(): Promise<{ data: Record<string, string>; resourceVersion: string }>;
  /** Another writer (outside rekey) merges `data` into the Secret through the Kubernetes API. */
  otherWrite(data: Record<string, string>): Promise<void>;
  /** The stand-in's request log since it started. */
  log(): Promise<LoggedRequest[]>;
  /** POSTs a stand-in control route (`/__stand-in/kubernetes/<route>`). */
  control(route: string, body: unknown): Promise<void>;
  rbac(rules: readonly RbacRule[]): Promise<void>;
  /** Every pod template change the stand-in saw (a restart), by whom: `api` (rekey) or `reloader`. */
  templateChanges(): Promise<TemplateChange[]>;
  stop(): Promise<void>;
}

async function startStandIn(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [STAND_IN, 'kubernetes', '--token-file', path.join(dir, 'token'), '--tick-ms', '40'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`kubernetes stand-in exited ${code}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

function kubeconfig(url: string): string {
  return [
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
    '    context: { cluster: stand-in, user: rekey, namespace: default }',
    'current-context: stand-in',
    '',
  ].join('\n');
}

/** A server answering 200 on /health: the app the verify check asks. */
async function healthServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/health' ? 'ok' : 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health` };
}

/**
 * A Kubernetes stack in a fresh temp dir: the Secret seeded with {@link INITIAL}, the workloads
 * rolled out with 2 replicas each.
 *
 * @example
 * const s = await makeKubeStack();
 * expect((await s.run(['rotate', '--yes'])).code).toBe(0);
 */
export async function makeKubeStack(
  options: {
    timeout?: string;
    /** Per workload (`deployment/bi-api`): its annotations (Reloader's), and it reads the Secret (envFrom). */
    workloads?: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** The rekey.yaml `store:` line (default: the kubernetes store of the Secret). */
    store?: string;
    /** `deploy.kubernetes.externalSecret`: an ExternalSecret of that name is created, owning the Secret. */
    externalSecret?: string;
  } = {},
): Promise<KubeStack> {
  const dir = await tempDir('rekey-k8s-e2e-');
  await fs.writeFile(path.join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const { child, url } = await startStandIn(dir);
  const config = path.join(dir, 'kubeconfig');
  await fs.writeFile(config, kubeconfig(url), { mode: 0o600 });
  const health = await healthServer();

  const control = async (route: string, body?: unknown, method = 'POST') => {
    const r = await fetch(`${url}/__stand-in/${route}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (r.status >= 300) throw new Error(`stand-in ${route}: ${r.status} ${await r.text()}`);
    return r;
  };
  await control('kubernetes/secret', { namespace: NAMESPACE, name: SECRET, data: INITIAL });
  if (options.externalSecret !== undefined)
    await control('kubernetes/external-secret', {
      namespace: NAMESPACE,
      name: options.externalSecret,
      target: SECRET,
    });
  for (const w of WORKLOADS) {
    const [kind, name] = w.split('/');
    const annotations = options.workloads?.[w];
    await control('kubernetes/workload', {
      kind,
      namespace: NAMESPACE,
      name,
      replicas: 2,
      envFromSecret: SECRET,
      ...(annotations === undefined ? {} : { annotations }),
    });
  }

  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    [
      // The shortest Lease: a killed run's Lease keeps recover out until it expires (the two-pod
      // lock, test/kubernetes-lock/); a crash sweep waits that long after each kill.
      options.store ??
        `store: { type: kubernetes, namespace: ${NAMESPACE}, name: ${SECRET}, lease: { duration: 5s } }`,
      'secrets:',
      '  - { key: JWT_SECRET, type: jwt }',
      '  - { key: API_SECRET_KEY, type: api-key }',
      'deploy:',
      `  kubernetes: { namespace: ${NAMESPACE}, workloads: [${WORKLOADS.join(', ')}], timeout: ${options.timeout ?? '60s'}${options.externalSecret === undefined ? '' : `, externalSecret: ${options.externalSecret}`} }`,
      'verify:',
      `  - { name: App Health, http: "${health.url}", expect: 200 }`,
      'verifyPolicy: { deadline: 20s, attemptTimeout: 2s, successes: 1 }',
      '',
    ].join('\n'),
  );
  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    ...process.env,
    NO_COLOR: '1',
    KUBECONFIG: config,
    ...extra,
  });
  const results: CliResult[] = [];
  const other = connectKube({ kubeconfig: config });

  return {
    dir,
    url,
    standIn: child,
    results,
    async run(args, extra) {
      const { child: cli, done } = startCli(args, dir, env(extra));
      const timer = setTimeout(() => cli.kill('SIGKILL'), 120_000);
      const r = await done;
      clearTimeout(timer);
      results.push(r);
      return r;
    },
    start(args, extra) {
      const started = startCli(args, dir, env(extra));
      void started.done.then((r) => results.push(r));
      return started;
    },
    async killAt(point, args, extra) {
      const pause = path.join(dir, 'pause');
      await fs.rm(pause, { force: true });
      const cli = spawn(process.execPath, [CLI, ...args], {
        cwd: dir,
        env: env({ ...extra, REKEY_PAUSE_AT: point, REKEY_PAUSE_FILE: pause }),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stdout = '';
      let stderr = '';
      cli.stdout?.on('data', (b) => {
        stdout += b;
      });
      cli.stderr?.on('data', (b) => {
        stderr += b;
      });
      const done = new Promise<CliResult>((resolve) =>
        cli.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
      );
      for (let i = 0; i < 2400 && cli.exitCode === null; i++) {
        if (await fs.stat(pause).catch(() => undefined)) {
          process.kill(-cli.pid!, 'SIGKILL');
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      if (cli.exitCode === null && cli.signalCode === null) process.kill(-cli.pid!, 'SIGKILL');
      const r = await done;
      await fs.rm(pause, { force: true });
      results.push(r);
      return r;
    },
    async secret() {
      const r = await control(`kubernetes/secret?namespace=${NAMESPACE}&name=${SECRET}`, undefined, 'GET');
      return (await r.json()) as { data: Record<string, string>; resourceVersion: string };
    },
    async otherWrite(data) {
      const encoded = Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      );
      await other.core.patchNamespacedSecret(
        { name: SECRET, namespace: NAMESPACE, body: { data: encoded } },
        MERGE_PATCH,
      );
    },
    async log() {
      return (await (await control('log', undefined, 'GET')).json()) as LoggedRequest[];
    },
    async control(route, body) {
      await control(`kubernetes/${route}`, body);
    },
    async rbac(rules) {
      await control('kubernetes/rbac', { rules });
    },
    async templateChanges() {
      return (await (
        await control('kubernetes/template-changes', undefined, 'GET')
      ).json()) as TemplateChange[];
    },
    async stop() {
      await new Promise<void>((r) => health.server.close(() => r()));
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
