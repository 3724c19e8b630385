/**
 * `rekey demo`: a throwaway stack, a full scheduled rotation with the live step list, the validation
 * table, real requests proving what changed, a compromise rotation, `rekey status`, then teardown
 * (unless --keep). Every claim it prints is the outcome of a real request (status codes, error codes),
 * collected in a list the end-to-end test asserts.
 *
 * With `--store vault-kv|aws-ssm|aws-secretsmanager` (demo/stack-store.ts) the app reads every secret
 * of the stack from that store's stand-in at start; the rotation writes the new values there and the
 * deploy command replaces the app's workers one by one, each reading the store as it starts.
 * Its claims add what the store holds, and the last ones are a canary scan: no value of the stack's
 * secrets in what the rekey commands printed, the app's log, or the stand-in's request log other
 * than the writes of the values themselves; and while the scheduled rotation runs, a probe keeps
 * calling the app with the token and the API key from before: 0 failed requests is a claim.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envValues, parseEnv } from '../src/envfile/index.js';
import { color } from '../src/lib/log.js';
import { redactor } from '../src/lib/redact.js';
import { startDashboard } from './dashboard-server.js';
import { appLogin, appMe, appReports, grafanaLogin, pgLogin, redisCount, redisLogin } from './probes.js';
import { type DemoStack, setUpDemoStack, writeStopFiles } from './stack-setup.js';
import { type DemoStoreType, STORE_TITLES, type StoreDemoStack, setUpStoreDemoStack } from './stack-store.js';

export interface Claim {
  readonly step: string;
  readonly claim: string;
  readonly expected: string | number;
  readonly actual: string | number;
  readonly ok: boolean;
}

export interface DemoResult {
  readonly ok: boolean;
  readonly dir: string;
  readonly kept: boolean;
  readonly ms: number;
  readonly claims: readonly Claim[];
  readonly commands: ReadonlyArray<{ readonly args: readonly string[]; readonly exitCode: number | null }>;
  /** With --keep: the dashboard of the kept stack (`rekey serve`, stopped by stop-demo.sh). */
  readonly dashboard?: string;
}

export interface DemoOptions {
  readonly keep: boolean;
  /** Quiet mode for --json: nothing but the final document on stdout. */
  readonly json: boolean;
  /** The store variant: the app's secrets in that store (its stand-in); the env file otherwise. */
  readonly store?: DemoStoreType;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

/** What each rotated key is called in the claims. */
const LABELS: Readonly<Record<string, string>> = {
  JWT_SECRET: 'JWT secret',
  API_SECRET_KEY: 'API key',
  POSTGRES_PASSWORD: 'PostgreSQL password',
  REDIS_PASSWORD: 'Redis password',
  GRAFANA_ADMIN_PASSWORD: 'Grafana admin password',
};

/** Calls the app until stopped: `/api/auth/me` with a token and `/api/reports` with an API key. */
function probe(appUrl: string, token: string, apiKey: string) {
  let stopped = false;
  let total = 0;
  let failed = 0;
  /** `me 503` → how many: what the failed requests answered (0: no answer). */
  const answers = new Map<string, number>();
  const calls = [
    ['me', () => appMe(appUrl, token)],
    ['reports', () => appReports(appUrl, apiKey)],
  ] as const;
  const loop = (async () => {
    while (!stopped) {
      for (const [name, call] of calls) {
        total += 1;
        const status = await call().catch(() => 0);
        if (status === 200) continue;
        failed += 1;
        answers.set(`${name} ${status}`, (answers.get(`${name} ${status}`) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { total, failed, answers: [...answers].map(([a, n]) => `${a} ×${n}`).join(', ') };
    },
  };
}

/**
 * @example
 * const result = await runDemo({ keep: false, json: false });
 * const vault = await runDemo({ keep: false, json: true, store: 'vault-kv' });
 * result.claims.every((c) => c.ok);
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = (line = '') => {
    if (!options.json) process.stderr.write(`${redactor.redact(line)}\n`);
  };
  const claims: Claim[] = [];
  const commands: Array<{ args: string[]; exitCode: number | null }> = [];
  /** What the rekey commands printed, where it was captured (every command of a store variant). */
  let printed = '';
  const claim = (step: string, text: string, expected: string | number, actual: string | number) => {
    const ok = expected === actual;
    claims.push({ step, claim: text, expected, actual, ok });
    say(`  ${ok ? color.green('✓') : color.red('✗')} ${text} ${color.dim(`(${actual})`)}`);
  };
  /**
   * Runs the CLI; resolves with its exit code and its stderr. Its output is shown (unless --json);
   * with `capture` (always in a store variant) it goes through a pipe and is kept for the canary
   * scan, else the terminal gets it as it is (the live step list).
   */
  const rekey = async (args: string[], capture = store !== undefined) => {
    say(color.bold(`$ rekey ${args.join(' ')}`));
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      const shown = options.json ? 'ignore' : 'inherit';
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: stack.dir,
        stdio: ['ignore', capture ? 'pipe' : shown, capture ? 'pipe' : shown],
        env: childEnv(),
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (!options.json) process.stdout.write(chunk);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        stderr += chunk.toString();
        if (!options.json) process.stderr.write(chunk);
      });
      child.on('close', resolve);
    });
    commands.push({ args, exitCode: code });
    say();
    return { code, stderr };
  };
  const deploy = (what: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('bash', [path.join(REPO, 'scripts/deploy.sh'), what], {
        cwd: stack.dir,
        stdio: ['ignore', 'ignore', options.json ? 'ignore' : 'inherit'],
        env: childEnv(),
      });
      child.on('close', resolve);
    });

  const where = options.store === undefined ? undefined : STORE_TITLES[options.store];
  say(
    color.bold(
      where === undefined
        ? 'rekey demo — a throwaway BI stack: PostgreSQL, Redis, the Grafana stand-in and the API app'
        : `rekey demo --store ${options.store} — the BI stack reads every secret from ${where}`,
    ),
  );
  say(
    color.dim(
      `  starting PostgreSQL (SCRAM), Redis (config file), the Grafana stand-in${where === undefined ? '' : ` and the ${where} stand-in`}…`,
    ),
  );
  const storeStack: StoreDemoStack | undefined =
    options.store === undefined
      ? undefined
      : await setUpStoreDemoStack({ repo: REPO, keep: options.keep, store: options.store });
  const stack: DemoStack = storeStack ?? (await setUpDemoStack({ repo: REPO, keep: options.keep }));
  const store = storeStack?.store;
  const childEnv = () => store?.env() ?? { ...process.env };
  const rotated = new Set(stack.rotated);
  // The secrets only (managed keys all name a secret): hosts and ports stay readable.
  redactor.addEnv(Object.entries(stack.initial));
  /** Every value of the stack's secrets seen so far: what the canary scan looks for. */
  const seen = new Set(Object.values(stack.initial));
  const secretKeys = new Set(Object.keys(stack.initial).flatMap((k) => [k, `${k}_PREVIOUS`]));
  /** The values the app reads now: the env file's, with the store's fields laid over them. */
  const values = async () => {
    const all = envValues(parseEnv(await fs.readFile(stack.envFile, 'utf8')));
    for (const [k, v] of (await store?.fields()) ?? []) all.set(k, v);
    redactor.addEnv(all);
    for (const [k, v] of all) if (secretKeys.has(k) && v !== '') seen.add(v);
    return all;
  };
  let kept = false;
  try {
    say(
      color.dim(
        `  stack folder: ${stack.dir}${store === undefined ? '' : `; ${where} stand-in at ${store.where}`}`,
      ),
    );
    if ((await deploy('deploy')) !== 0) throw new Error('the first deploy of the app failed');
    say(color.dim(`  the app runs at ${stack.appUrl}; seeding live sessions…`));
    const before = await values();
    const sessions = [];
    for (let i = 0; i < 3; i++)
      sessions.push(await appLogin(stack.appUrl, before.get('DEMO_USER_PASSWORD') ?? ''));
    const token = sessions[0]?.token ?? '';
    const from = where === undefined ? '' : ` from ${where}`;
    claim(
      'setup',
      `logged in as analyst${where === undefined ? '' : ` (JWT signed with the secret read from ${where})`}: token issued`,
      200,
      sessions[0]?.status ?? 0,
    );
    claim(
      'setup',
      `reports readable with the API key${from}`,
      200,
      await appReports(stack.appUrl, before.get('API_SECRET_KEY') ?? ''),
    );
    say();

    // 1. A scheduled rotation, under traffic.
    say(
      color.bold(
        `1. Scheduled rotation of ${rotated.size === 5 ? 'all five secrets' : 'the JWT secret and the API key'}${where === undefined ? '' : `, in ${where}, under traffic`}`,
      ),
    );
    // Under traffic in the store variants (the env-file demo rotates PostgreSQL too: one password per
    // role, so a connection the app opens between the change and its redeploy may be refused).
    const load =
      store === undefined ? undefined : probe(stack.appUrl, token, before.get('API_SECRET_KEY') ?? '');
    await rekey([
      'rotate',
      '--trigger',
      'scheduled',
      '--yes',
      '--ticket',
      'DEMO-1',
      '--operator',
      'demo@rekey.local',
    ]);
    const traffic = await load?.stop();
    await rekey(['verify']);
    const after = await values();
    say(color.bold('   What changed, shown with real requests:'));
    if (where !== undefined)
      for (const key of rotated)
        claim(
          'scheduled',
          `${where} holds a new ${LABELS[key] ?? key}`,
          'changed',
          after.get(key) !== before.get(key) ? 'changed' : 'same',
        );
    if (traffic !== undefined) {
      claim(
        'scheduled',
        `requests with the old token and API key during the rotation (${traffic.total}) that failed`,
        0,
        traffic.total > 0 ? traffic.failed : -1,
      );
      if (traffic.failed > 0) say(color.dim(`    the failed requests answered: ${traffic.answers}`));
    }
    const pgPort = Number(after.get('POSTGRES_PORT'));
    const redisPort = Number(after.get('REDIS_PORT'));
    /** The role the app logs in as: it changes with every rotation on alternating roles. */
    const pgUser = (v: ReadonlyMap<string, string>) => v.get('POSTGRES_USER') || 'bi_user';
    const pgPassword = (v: ReadonlyMap<string, string>) => v.get('POSTGRES_PASSWORD') ?? '';
    const alternating = pgUser(after) !== pgUser(before);
    if (rotated.has('POSTGRES_PASSWORD') && alternating) {
      claim(
        'scheduled',
        `PostgreSQL accepts the new login (role ${pgUser(after)}, new password)`,
        'accepted',
        await pgLogin(pgPort, pgUser(after), pgPassword(after)),
      );
      claim(
        'scheduled',
        `the PostgreSQL login from before still works (grace: alternating roles, ${pgUser(before)})`,
        'accepted',
        await pgLogin(pgPort, pgUser(before), pgPassword(before)),
      );
    } else if (rotated.has('POSTGRES_PASSWORD')) {
      claim(
        'scheduled',
        'PostgreSQL rejects the old password',
        '28P01',
        await pgLogin(pgPort, pgUser(before), pgPassword(before)),
      );
      claim(
        'scheduled',
        'PostgreSQL accepts the new password',
        'accepted',
        await pgLogin(pgPort, pgUser(after), pgPassword(after)),
      );
    }
    if (rotated.has('REDIS_PASSWORD')) {
      claim(
        'scheduled',
        'Redis rejects the old password',
        'WRONGPASS',
        await redisLogin(redisPort, before.get('REDIS_PASSWORD') ?? ''),
      );
      claim(
        'scheduled',
        'Redis accepts the new password',
        'PONG',
        await redisLogin(redisPort, after.get('REDIS_PASSWORD') ?? ''),
      );
    }
    if (rotated.has('GRAFANA_ADMIN_PASSWORD')) {
      claim(
        'scheduled',
        'Grafana rejects the old admin password',
        401,
        await grafanaLogin(stack.grafanaUrl, before.get('GRAFANA_ADMIN_PASSWORD') ?? ''),
      );
      claim(
        'scheduled',
        'Grafana accepts the new admin password',
        200,
        await grafanaLogin(stack.grafanaUrl, after.get('GRAFANA_ADMIN_PASSWORD') ?? ''),
      );
    }
    claim(
      'scheduled',
      'the token issued before the rotation still works (grace: JWT_SECRET_PREVIOUS)',
      200,
      await appMe(stack.appUrl, token),
    );
    claim(
      'scheduled',
      'the old API key still works (grace: API_SECRET_KEY_PREVIOUS)',
      200,
      await appReports(stack.appUrl, before.get('API_SECRET_KEY') ?? ''),
    );
    claim(
      'scheduled',
      `the new API key works${where === undefined ? '' : ` (the app read it from ${where})`}`,
      200,
      await appReports(stack.appUrl, after.get('API_SECRET_KEY') ?? ''),
    );
    say();

    // 2. Suspected compromise: no grace, sessions purged.
    const purges = rotated.has('REDIS_PASSWORD');
    say(
      color.bold(
        `2. Rotation on suspected compromise: grace slots emptied${purges ? ', sessions purged' : ''}`,
      ),
    );
    if (purges)
      say(
        color.dim(
          '   Its output ends with the eviction report, "what an attacker could still use": per service, the passwords, connections and sessions removed, and what could not be checked.',
        ),
      );
    const compromise = await rekey(
      ['rotate', '--trigger', 'compromise', '--yes', '--ticket', 'DEMO-2', '--operator', 'demo@rekey.local'],
      true,
    );
    const third = await values();
    if (purges) {
      const report = evictionReport(compromise.stderr);
      claim(
        'compromise',
        'the rotation printed the eviction report (what an attacker could still use)',
        'shown',
        report ? 'shown' : 'missing',
      );
      const redis = report?.get([...report.keys()].find((k) => k.includes('REDIS_PASSWORD')) ?? '');
      claim(
        'compromise',
        'eviction report: Redis keeps only the new password, and the connections opened before are closed',
        'removed, removed',
        `${redis?.get('passwords') ?? 'missing'}, ${redis?.get('connections') ?? 'missing'}`,
      );
    }
    if (rotated.has('POSTGRES_PASSWORD') && alternating) {
      claim(
        'compromise',
        `the PostgreSQL login from before (role ${pgUser(after)}) is rejected at once`,
        '28P01',
        await pgLogin(pgPort, pgUser(after), pgPassword(after)),
      );
      claim(
        'compromise',
        `PostgreSQL accepts the new login (role ${pgUser(third)})`,
        'accepted',
        await pgLogin(pgPort, pgUser(third), pgPassword(third)),
      );
    }
    claim(
      'compromise',
      'the token from before both rotations is rejected at once',
      401,
      await appMe(stack.appUrl, token),
    );
    claim(
      'compromise',
      'the previous API key is rejected at once',
      401,
      await appReports(stack.appUrl, after.get('API_SECRET_KEY') ?? ''),
    );
    if (purges) {
      const pre = sessions.filter((s) => s.sid).length;
      let left = 0;
      for (const s of sessions)
        if (s.sid) left += await redisCount(redisPort, third.get('REDIS_PASSWORD') ?? '', `session:${s.sid}`);
      claim('compromise', `the ${pre} sessions from before were purged from Redis`, 0, left);
    }
    const fresh = await appLogin(stack.appUrl, third.get('DEMO_USER_PASSWORD') ?? '');
    claim('compromise', 'a new login works', 200, fresh.status);
    claim(
      'compromise',
      'and its token is accepted',
      200,
      fresh.token ? await appMe(stack.appUrl, fresh.token) : 0,
    );
    say();

    say(color.bold('3. Where the stack stands'));
    await rekey(['status']);
    const audit = path.join(stack.dir, 'rekey-audit.jsonl');
    say(`   audit log: ${audit} (\`rekey audit show\`, \`rekey audit verify\`)`);

    if (store !== undefined) {
      // The canary scan: no secret value anywhere it must not be.
      const leaks = (text: string) => [...seen].filter((v) => v.length >= 8 && text.includes(v)).length;
      claim('canary', 'secret values in what the rekey commands printed', 0, leaks(printed));
      const appLog = await fs.readFile(path.join(stack.dir, '.run', 'app.log'), 'utf8').catch(() => '');
      claim('canary', 'secret values in the app log', 0, appLog === '' ? -1 : leaks(appLog));
      const requests = await store.log();
      claim(
        'canary',
        `secret values in the ${where} stand-in's request log, other than the writes`,
        0,
        leaks(
          requests
            .filter((r) => !r.write)
            .map((r) => `${r.path} ${r.body}`)
            .join('\n'),
        ),
      );
    }

    const ok = claims.every((c) => c.ok) && commands.every((c) => c.exitCode === 0);
    say();
    say(
      ok
        ? color.green(`demo finished: every claim held (${claims.length} checks)`)
        : color.red('demo finished with FAILED claims (marked ✗ above)'),
    );
    let dashboard: string | undefined;
    if (options.keep) {
      kept = true;
      // The dashboard of the kept stack: rekey serve on a free loopback port, listed first in
      // stop-demo.sh (stopped by pid and start time before the servers it reads from).
      try {
        const serve = await startDashboard(CLI, stack.dir, childEnv());
        await writeStopFiles(REPO, stack.dir, [serve, ...stack.servers]);
        dashboard = serve.url;
      } catch (e) {
        say(color.red(`  the dashboard did not start: ${e instanceof Error ? e.message : String(e)}`));
      }
      say();
      say(color.bold('The stack keeps running (--keep):'));
      say(`  folder       ${stack.dir}  (rekey.yaml, .env.production, .rekey/, rekey-audit.jsonl)`);
      say(`  app          ${stack.appUrl}/api/health`);
      say(`  grafana      ${stack.grafanaUrl} (stand-in)`);
      say(`  postgres     127.0.0.1:${pgPort}, redis 127.0.0.1:${redisPort}`);
      if (store !== undefined) say(`  ${store.type.padEnd(12)} ${store.where}`);
      say(`  try          cd ${stack.dir} && ${store?.shellEnv ?? ''}node ${CLI} status`);
      say(`  stop it      bash ${path.join(stack.dir, 'stop-demo.sh')}`);
      if (dashboard !== undefined)
        say(`  dashboard    ${color.bold(dashboard)}  (rekey serve; stop-demo.sh stops it)`);
    }
    return {
      ok,
      dir: stack.dir,
      kept,
      ms: Date.now() - started,
      claims,
      commands,
      ...(dashboard === undefined ? {} : { dashboard }),
    };
  } finally {
    if (!kept) {
      await deploy('stop');
      await stack.stop();
      say(
        color.dim(
          `  torn down: processes stopped, ${stack.dir} removed (${((Date.now() - started) / 1000).toFixed(1)} s in all)`,
        ),
      );
    }
  }
}

/**
 * The eviction report in a rotation's human output (src/cli/report.ts, renderEviction): service →
 * foothold → its mark ('removed', 'clean', 'FOUND, left in place', 'NOT CHECKED'); undefined when
 * the output has none.
 *
 * @example
 * evictionReport(stderr)?.get('Redis 127.0.0.1:6379 (REDIS_PASSWORD)')?.get('connections'); // 'removed'
 */
export function evictionReport(output: string): Map<string, Map<string, string>> | undefined {
  const lines = output.split('\n');
  const at = lines.findIndex((l) => l.startsWith('What an attacker could still use'));
  if (at < 0) return undefined;
  const services = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of lines.slice(at + 1)) {
    const finding = /^ {4}(\S+)\s+(.+?): /.exec(line);
    if (finding) {
      current?.set(finding[1] ?? '', finding[2] ?? '');
    } else if (/^ {2}\S/.test(line)) {
      current = new Map();
      services.set(line.trim(), current);
    } else {
      break;
    }
  }
  return services;
}
