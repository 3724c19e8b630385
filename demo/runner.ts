/**
 * `rekey demo`: a throwaway stack, a full scheduled rotation with the live step list, the validation
 * table, real requests proving what changed, a compromise rotation, `rekey status`, then teardown
 * (unless --keep). Every claim it prints is the outcome of a real request (status codes, error codes),
 * collected in a list the end-to-end test asserts.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envValues, parseEnv } from '../src/envfile/index.js';
import { color } from '../src/lib/log.js';
import { redactor } from '../src/lib/redact.js';
import { appLogin, appMe, appReports, grafanaLogin, pgLogin, redisCount, redisLogin } from './probes.js';
import { type DemoStack, setUpDemoStack } from './stack-setup.js';

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
}

export interface DemoOptions {
  readonly keep: boolean;
  /** Quiet mode for --json: nothing but the final document on stdout. */
  readonly json: boolean;
}

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

/**
 * @example
 * const result = await runDemo({ keep: false, json: false });
 * result.claims.every((c) => c.ok);
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = (line = '') => {
    if (!options.json) process.stderr.write(`${redactor.redact(line)}\n`);
  };
  const claims: Claim[] = [];
  const commands: Array<{ args: string[]; exitCode: number | null }> = [];
  const claim = (step: string, text: string, expected: string | number, actual: string | number) => {
    const ok = expected === actual;
    claims.push({ step, claim: text, expected, actual, ok });
    say(`  ${ok ? color.green('✓') : color.red('✗')} ${text} ${color.dim(`(${actual})`)}`);
  };
  /** Runs the CLI; resolves with its exit code and, with `capture`, its stderr (still shown). */
  const rekey = async (args: string[], capture = false) => {
    say(color.bold(`$ rekey ${args.join(' ')}`));
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      const shown = options.json ? 'ignore' : 'inherit';
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: stack.dir,
        stdio: ['ignore', shown, capture ? 'pipe' : shown],
        env: { ...process.env },
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!options.json) process.stderr.write(chunk);
      });
      child.on('close', resolve);
    });
    commands.push({ args, exitCode: code });
    say();
    return { code, stderr };
  };
  const env = async () => envValues(parseEnv(await fs.readFile(stack.envFile, 'utf8')));
  const deploy = (what: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('bash', [path.join(REPO, 'scripts/deploy.sh'), what], {
        cwd: stack.dir,
        stdio: ['ignore', 'ignore', options.json ? 'ignore' : 'inherit'],
      });
      child.on('close', resolve);
    });

  say(
    color.bold('rekey demo — a throwaway BI stack: PostgreSQL, Redis, the Grafana stand-in and the API app'),
  );
  say(color.dim('  starting PostgreSQL (SCRAM), Redis (config file) and the Grafana stand-in…'));
  const stack: DemoStack = await setUpDemoStack({ repo: REPO, keep: options.keep });
  // The secrets only (managed keys all name a secret): hosts and ports stay readable.
  redactor.addEnv(Object.entries(stack.initial));
  let kept = false;
  try {
    say(color.dim(`  stack folder: ${stack.dir}`));
    if ((await deploy('deploy')) !== 0) throw new Error('the first deploy of the app failed');
    say(color.dim(`  the app runs at ${stack.appUrl}; seeding live sessions…`));
    const before = await env();
    const sessions = [];
    for (let i = 0; i < 3; i++)
      sessions.push(await appLogin(stack.appUrl, before.get('DEMO_USER_PASSWORD')!));
    const token = sessions[0]?.token ?? '';
    claim('setup', 'logged in as analyst: token issued', 200, sessions[0]?.status ?? 0);
    claim(
      'setup',
      'reports readable with the API key',
      200,
      await appReports(stack.appUrl, before.get('API_SECRET_KEY')!),
    );
    say();

    // 1. A scheduled rotation of all five secrets.
    say(color.bold('1. Scheduled rotation of all five secrets'));
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
    await rekey(['verify']);
    const after = await env();
    redactor.addEnv(after);
    say(color.bold('   What changed, shown with real requests:'));
    const pgPort = Number(after.get('POSTGRES_PORT'));
    const redisPort = Number(after.get('REDIS_PORT'));
    claim(
      'scheduled',
      'PostgreSQL rejects the old password',
      '28P01',
      await pgLogin(pgPort, 'bi_user', before.get('POSTGRES_PASSWORD')!),
    );
    claim(
      'scheduled',
      'PostgreSQL accepts the new password',
      'accepted',
      await pgLogin(pgPort, 'bi_user', after.get('POSTGRES_PASSWORD')!),
    );
    claim(
      'scheduled',
      'Redis rejects the old password',
      'WRONGPASS',
      await redisLogin(redisPort, before.get('REDIS_PASSWORD')!),
    );
    claim(
      'scheduled',
      'Redis accepts the new password',
      'PONG',
      await redisLogin(redisPort, after.get('REDIS_PASSWORD')!),
    );
    claim(
      'scheduled',
      'Grafana rejects the old admin password',
      401,
      await grafanaLogin(stack.grafanaUrl, before.get('GRAFANA_ADMIN_PASSWORD')!),
    );
    claim(
      'scheduled',
      'Grafana accepts the new admin password',
      200,
      await grafanaLogin(stack.grafanaUrl, after.get('GRAFANA_ADMIN_PASSWORD')!),
    );
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
      await appReports(stack.appUrl, before.get('API_SECRET_KEY')!),
    );
    claim(
      'scheduled',
      'the new API key works',
      200,
      await appReports(stack.appUrl, after.get('API_SECRET_KEY')!),
    );
    say();

    // 2. Suspected compromise: no grace, sessions purged.
    say(color.bold('2. Rotation on suspected compromise: grace slots emptied, sessions purged'));
    say(
      color.dim(
        '   Its output ends with the eviction report, "what an attacker could still use": per service, the passwords, connections and sessions removed, and what could not be checked.',
      ),
    );
    const compromise = await rekey(
      ['rotate', '--trigger', 'compromise', '--yes', '--ticket', 'DEMO-2', '--operator', 'demo@rekey.local'],
      true,
    );
    const third = await env();
    redactor.addEnv(third);
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
      await appReports(stack.appUrl, after.get('API_SECRET_KEY')!),
    );
    const pre = sessions.filter((s) => s.sid).length;
    let left = 0;
    for (const s of sessions)
      if (s.sid) left += await redisCount(redisPort, third.get('REDIS_PASSWORD')!, `session:${s.sid}`);
    claim('compromise', `the ${pre} sessions from before were purged from Redis`, 0, left);
    const fresh = await appLogin(stack.appUrl, third.get('DEMO_USER_PASSWORD')!);
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

    const ok = claims.every((c) => c.ok) && commands.every((c) => c.exitCode === 0);
    say();
    say(
      ok
        ? color.green(`demo finished: every claim held (${claims.length} checks)`)
        : color.red('demo finished with FAILED claims (marked ✗ above)'),
    );
    if (options.keep) {
      kept = true;
      say();
      say(color.bold('The stack keeps running (--keep):'));
      say(`  folder       ${stack.dir}  (rekey.yaml, .env.production, .rekey/, rekey-audit.jsonl)`);
      say(`  app          ${stack.appUrl}/api/health`);
      say(`  grafana      ${stack.grafanaUrl} (stand-in)`);
      say(`  postgres     127.0.0.1:${pgPort}, redis 127.0.0.1:${redisPort}`);
      say(`  try          cd ${stack.dir} && node ${CLI} status`);
      say(`  stop it      bash ${path.join(stack.dir, 'stop-demo.sh')}`);
    }
    return { ok, dir: stack.dir, kept, ms: Date.now() - started, claims, commands };
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
