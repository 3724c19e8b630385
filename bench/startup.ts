/**
 * `npm run bench -- startup [--runs 20]`: cold starts of the CLI, each beside `node -e 0` (Node's own
 * start-up): `rekey --version`, `rekey status` on a 5-secret and a 20-secret stack, and `rekey plan`
 * on a stack of file-held secrets (a plan of service secrets would time the services' logins), and
 * the floor of any command that reads rekey.yaml: Node importing zod and yaml, nothing else. The
 * stacks are written into throwaway folders; no service is started (status reads files only).
 *
 * Each round runs every command once, in turn, after two warm-up rounds; a row's ratio is the median
 * over the rounds of its time divided by `node -e 0`'s in the same round, so it holds when the
 * machine's speed drifts. The baseline column is `rekey rotate`'s cold-start rows as committed before
 * issue 17 (bench/baseline.ts).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from '../src/lib/generate.js';
import { makeOwnedDir, removeOwnedDir } from '../src/lib/owned-dir.js';
import { BASELINE_COMMIT, baselineResults } from './baseline.js';
import { describeMachine, machineLine } from './machine.js';
import { say, table, writeResults } from './report.js';
import { CLI } from './stack.js';
import { median, round } from './stats.js';

export interface StartupOptions {
  readonly runs: number;
}

/** A command timed: its label, its arguments to node, the folder it runs in. */
interface Cold {
  readonly id: string;
  readonly label: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The label of the committed baseline row (bench/results/rotate.json), if there is one. */
  readonly baseline?: string;
}

interface ColdResult {
  readonly id: string;
  readonly label: string;
  readonly ms: number[];
  readonly ratios: number[];
  readonly medianMs: number;
  readonly ratio: number;
  readonly baselineMs?: number;
  readonly baselineRatio?: number;
}

/** The goal of issue 17: `rekey status` within twice Node's own start-up. */
const GOAL_RATIO = 2;

const TYPES = ['jwt', 'api-key', 'postgres', 'redis', 'grafana'] as const;

/**
 * A stack of `count` secrets cycling through the five types (services on ports nothing listens on:
 * status never connects), or only file-held ones (`fileOnly`: jwt and api-key) for `rekey plan`.
 */
export async function writeStartupStack(dir: string, count: number, fileOnly = false): Promise<void> {
  const secrets: string[] = [];
  const env: string[] = [];
  const types = fileOnly ? TYPES.slice(0, 2) : TYPES;
  for (let i = 0; i < count; i++) {
    const type = types[i % types.length] ?? 'jwt';
    const key = `${type.replace('-', '_').toUpperCase()}_SECRET_${i}`;
    const value = generate({ kind: 'bytes', bytes: 32 });
    switch (type) {
      case 'jwt':
      case 'api-key':
        secrets.push(`  - { key: ${key}, type: ${type}, previousKey: ${key}_PREVIOUS }`);
        env.push(`${key}=${value}`, `${key}_PREVIOUS=`);
        break;
      case 'postgres':
        secrets.push(
          `  - { key: ${key}, type: postgres, host: 127.0.0.1, port: 1, user: role_${i}, database: app, sslmode: disable }`,
        );
        env.push(`${key}=${value}`);
        break;
      case 'redis':
        secrets.push(`  - { key: ${key}, type: redis, host: 127.0.0.1, port: 1, user: user_${i} }`);
        env.push(`${key}=${value}`);
        break;
      case 'grafana':
        secrets.push(`  - { key: ${key}, type: grafana, url: "http://127.0.0.1:1", user: admin_${i} }`);
        env.push(`${key}=${value}`);
        break;
    }
  }
  await writeFile(
    path.join(dir, 'rekey.yaml'),
    [
      'envFile: .env.production',
      'stack: startup',
      'policy: { maxAge: 90d, warnBefore: 14d }',
      'secrets:',
      ...secrets,
      'deploy:',
      '  command: "true"',
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, '.env.production'), `${env.join('\n')}\n`, { mode: 0o600 });
}

/** One run of `node <args>` in `cwd`: wall ms, process start to exit. Throws on a non-zero exit. */
function timeOnce(c: Cold): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...c.args], { cwd: c.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`${c.label} exited ${code}: ${stderr.slice(-1000)}`));
    });
  });
}

/**
 * @example
 * await benchStartup({ runs: 20 });
 */
export async function benchStartup(opts: StartupOptions): Promise<void> {
  const machine = await describeMachine();
  const dirs = await Promise.all(
    ['rekey-bench-startup-5-', 'rekey-bench-startup-20-', 'rekey-bench-startup-plan-'].map((p) =>
      makeOwnedDir(p),
    ),
  );
  const [five, twenty, files] = dirs as [string, string, string];
  const commands: Cold[] = [
    {
      id: 'node',
      label: '`node -e 0` (Node alone)',
      args: ['-e', '0'],
      cwd: five,
      baseline: '`node -e 0` (Node alone)',
    },
    {
      id: 'version',
      label: '`rekey --version`',
      args: [CLI, '--version'],
      cwd: five,
      baseline: '`rekey --version`',
    },
    {
      id: 'status-5',
      label: '`rekey status`, 5 secrets',
      args: [CLI, 'status'],
      cwd: five,
      baseline: '`rekey status`',
    },
    {
      id: 'floor',
      label: 'Node importing zod and yaml only (what reading rekey.yaml needs)',
      args: [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(import.meta.resolve('zod'))}); await import(${JSON.stringify(import.meta.resolve('yaml'))});`,
      ],
      cwd: five,
    },
    { id: 'status-20', label: '`rekey status`, 20 secrets', args: [CLI, 'status'], cwd: twenty },
    { id: 'plan', label: '`rekey plan`, 2 file-held secrets', args: [CLI, 'plan'], cwd: files },
  ];
  const samples = new Map<string, number[]>(commands.map((c) => [c.id, []]));
  try {
    await writeStartupStack(five, 5);
    await writeStartupStack(twenty, 20);
    await writeStartupStack(files, 2, true);
    for (let round = -2; round < opts.runs; round++) {
      for (const c of commands) {
        const ms = await timeOnce(c);
        if (round >= 0) samples.get(c.id)?.push(ms);
      }
    }
  } finally {
    for (const dir of dirs) await removeOwnedDir(dir);
  }
  const base = await baselineResults<{ median?: { coldStarts?: Record<string, number> } }>('rotate');
  const old = base?.median?.coldStarts ?? {};
  const oldNode = old['`node -e 0` (Node alone)'];
  const node = samples.get('node') ?? [];
  const results: ColdResult[] = commands.map((c) => {
    const ms = samples.get(c.id) ?? [];
    const ratios = ms.map((m, i) => m / (node[i] ?? Number.NaN));
    const baselineMs = c.baseline === undefined ? undefined : old[c.baseline];
    return {
      id: c.id,
      label: c.label,
      ms: ms.map((m) => round(m)),
      ratios: ratios.map((r) => round(r)),
      medianMs: round(median(ms)),
      ratio: round(median(ratios)),
      ...(baselineMs === undefined ? {} : { baselineMs }),
      ...(baselineMs === undefined || oldNode === undefined
        ? {}
        : { baselineRatio: round(baselineMs / oldNode) }),
    };
  });
  for (const r of results) say(`  ${r.label}: median ${r.medianMs} ms, ${r.ratio}× node -e 0`);
  const statusRows = results.filter((r) => r.id.startsWith('status-'));
  const met = statusRows.every((r) => r.ratio <= GOAL_RATIO);
  const md = [
    '# startup: cold starts of the CLI beside `node -e 0`',
    '',
    machineLine(machine),
    '',
    `Wall time, process start to exit, of each command run from its stack's folder; ${opts.runs} rounds after 2 warm-up rounds, each round running every command once in turn. The ratio is the median over the rounds of the command's time over \`node -e 0\`'s in the same round. Baseline: \`rekey rotate\`'s cold-start rows committed at ${BASELINE_COMMIT} (before issue 17), a different run (hyperfine, 10 runs): compare the ratios rather than the milliseconds.`,
    '',
    table(
      ['command', 'median', '× `node -e 0`', 'baseline median', 'baseline ×'],
      results.map((r) => [
        r.label,
        `${r.medianMs} ms`,
        r.id === 'node' ? '1' : `${r.ratio}×`,
        r.baselineMs === undefined ? '—' : `${r.baselineMs} ms`,
        r.baselineRatio === undefined ? '—' : r.id === 'node' ? '1' : `${r.baselineRatio}×`,
      ]),
    ),
    '',
    `Goal (issue 17): \`rekey status\` within ${GOAL_RATIO}× \`node -e 0\` — ${met ? 'met' : 'NOT met'} (${statusRows.map((r) => `${r.ratio}×`).join(', ')}).`,
    '',
  ].join('\n');
  const written = await writeResults('startup', { machine, options: opts, results }, md);
  say(`wrote ${written.join(', ')}`);
}
