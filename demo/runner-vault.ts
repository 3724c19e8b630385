/**
 * `rekey demo --store vault-kv`: the demo's Vault variant (demo/stack-vault.ts). The app reads its JWT
 * secret and API key from a Vault KV v2 secret (the stand-in) at start; a scheduled rotation writes
 * new values to Vault (one CAS write) and the deploy command replaces the app's workers one by one,
 * each reading Vault as it starts. While it runs, a probe keeps calling the app with the token and the
 * API key from before: 0 failed requests is a claim. Then a compromise rotation (no grace). Every
 * claim is the outcome of a real request, and the last ones are a canary scan: no value of the
 * stack's secrets in what the rekey commands printed, the app's log, or the Vault stand-in's request
 * log other than the writes of the values themselves. Torn down unless --keep (then stop-demo.sh).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { color } from '../src/lib/log.js';
import { redactor } from '../src/lib/redact.js';
import { appLogin, appMe, appReports } from './probes.js';
import type { Claim, DemoOptions, DemoResult } from './runner.js';
import { setUpVaultDemoStack, type VaultDemoStack } from './stack-vault.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

/** Calls the app until stopped: `/api/auth/me` with a token and `/api/reports` with an API key. */
function probe(appUrl: string, token: string, apiKey: string) {
  let stopped = false;
  let total = 0;
  let failed = 0;
  const loop = (async () => {
    while (!stopped) {
      for (const call of [() => appMe(appUrl, token), () => appReports(appUrl, apiKey)]) {
        total += 1;
        if ((await call().catch(() => 0)) !== 200) failed += 1;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { total, failed };
    },
  };
}

/**
 * @example
 * const result = await runVaultDemo({ keep: false, json: true });
 */
export async function runVaultDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = (line = '') => {
    if (!options.json) process.stderr.write(`${redactor.redact(line)}\n`);
  };
  const claims: Claim[] = [];
  const commands: Array<{ args: string[]; exitCode: number | null }> = [];
  let printed = '';
  const claim = (step: string, text: string, expected: string | number, actual: string | number) => {
    const ok = expected === actual;
    claims.push({ step, claim: text, expected, actual, ok });
    say(`  ${ok ? color.green('✓') : color.red('✗')} ${text} ${color.dim(`(${actual})`)}`);
  };
  /** Runs the CLI; its output is shown (unless --json) and kept for the canary scan. */
  const rekey = async (args: string[]) => {
    say(color.bold(`$ rekey ${args.join(' ')}`));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: stack.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env },
      });
      const keep = (chunk: Buffer) => {
        printed += chunk.toString();
        if (!options.json) process.stderr.write(chunk);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('close', resolve);
    });
    commands.push({ args, exitCode: code });
    say();
    return code;
  };
  const deploy = (what: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('bash', [path.join(REPO, 'scripts/deploy.sh'), what], {
        cwd: stack.dir,
        stdio: ['ignore', 'ignore', options.json ? 'ignore' : 'inherit'],
      });
      child.on('close', resolve);
    });

  say(color.bold('rekey demo --store vault-kv — the BI app reads its JWT secret and API key from Vault'));
  say(color.dim('  starting PostgreSQL, Redis, the Grafana stand-in and the Vault KV v2 stand-in…'));
  const stack: VaultDemoStack = await setUpVaultDemoStack({ repo: REPO, keep: options.keep });
  redactor.addEnv(Object.entries(stack.initial));
  const seen = new Set(Object.values(stack.initial));
  let kept = false;
  const fields = async () => {
    const f = await stack.vaultFields();
    for (const [k, v] of f) if (v !== '' && k !== 'DEMO_USER_PASSWORD') seen.add(v);
    redactor.addEnv(f);
    return f;
  };
  try {
    say(
      color.dim(`  stack folder: ${stack.dir}; Vault stand-in at ${stack.vaultUrl}, secret secret/demo/app`),
    );
    if ((await deploy('deploy')) !== 0) throw new Error('the first deploy of the app failed');
    const before = await fields();
    const session = await appLogin(stack.appUrl, before.get('DEMO_USER_PASSWORD') ?? '');
    const token = session.token ?? '';
    claim(
      'setup',
      'logged in as analyst (JWT signed with the secret read from Vault): token issued',
      200,
      session.status,
    );
    claim(
      'setup',
      'reports readable with the API key from Vault',
      200,
      await appReports(stack.appUrl, before.get('API_SECRET_KEY') ?? ''),
    );
    say();

    say(color.bold('1. Scheduled rotation of the JWT secret and the API key, in Vault, under traffic'));
    const load = probe(stack.appUrl, token, before.get('API_SECRET_KEY') ?? '');
    await rekey([
      'rotate',
      '--trigger',
      'scheduled',
      '--yes',
      '--ticket',
      'DEMO-V1',
      '--operator',
      'demo@rekey.local',
    ]);
    const traffic = await load.stop();
    await rekey(['verify']);
    const after = await fields();
    claim(
      'scheduled',
      'Vault holds a new JWT secret',
      'changed',
      after.get('JWT_SECRET') !== before.get('JWT_SECRET') ? 'changed' : 'same',
    );
    claim(
      'scheduled',
      'Vault holds a new API key',
      'changed',
      after.get('API_SECRET_KEY') !== before.get('API_SECRET_KEY') ? 'changed' : 'same',
    );
    claim(
      'scheduled',
      `requests with the old token and API key during the rotation (${traffic.total}) that failed`,
      0,
      traffic.total > 0 ? traffic.failed : -1,
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
      await appReports(stack.appUrl, before.get('API_SECRET_KEY') ?? ''),
    );
    claim(
      'scheduled',
      'the new API key works (the app read it from Vault)',
      200,
      await appReports(stack.appUrl, after.get('API_SECRET_KEY') ?? ''),
    );
    say();

    say(color.bold('2. Rotation on suspected compromise: grace slots emptied'));
    await rekey([
      'rotate',
      '--trigger',
      'compromise',
      '--yes',
      '--ticket',
      'DEMO-V2',
      '--operator',
      'demo@rekey.local',
    ]);
    const third = await fields();
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
    const fresh = await appLogin(stack.appUrl, third.get('DEMO_USER_PASSWORD') ?? '');
    claim(
      'compromise',
      'a new login works, and its token is accepted',
      200,
      fresh.token ? await appMe(stack.appUrl, fresh.token) : fresh.status,
    );
    say();

    say(color.bold('3. Where the stack stands'));
    await rekey(['status']);

    // The canary scan: no secret value anywhere it must not be.
    const leaks = (text: string) => [...seen].filter((v) => v.length >= 8 && text.includes(v)).length;
    claim('canary', 'secret values in what the rekey commands printed', 0, leaks(printed));
    const appLog = await fs.readFile(path.join(stack.dir, '.run', 'app.log'), 'utf8').catch(() => '');
    claim('canary', 'secret values in the app log', 0, appLog === '' ? -1 : leaks(appLog));
    const res = await fetch(`${stack.vaultUrl}/__stand-in/log`);
    const requests = (await res.json()) as Array<{ write: boolean; body: string; path: string }>;
    claim(
      'canary',
      "secret values in the Vault stand-in's request log, other than the writes",
      0,
      leaks(
        requests
          .filter((r) => !r.write)
          .map((r) => `${r.path} ${r.body}`)
          .join('\n'),
      ),
    );

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
      say(`  vault        ${stack.vaultUrl} (stand-in; token in .run/vault-token)`);
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
