/**
 * Runs the configured deploy / rollback command: through `/bin/sh -c`, in its own process group (so a
 * timeout kills the whole tree), with a timeout, its output captured, redacted of every known secret
 * value and stored in the state directory. The child's environment carries no secret: variables named
 * like a managed key, or whose value is a known secret, are removed; `passEnv` keys are added from the
 * env file only when the config asks for them.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { RekeyError } from '../core/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../core/fsx.js';
import { redactor } from '../core/redact.js';

export interface CommandResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly ms: number;
  /** Redacted combined stdout and stderr (at most the last {@link MAX_OUTPUT} bytes). */
  readonly output: string;
  readonly logFile?: string;
}

export interface RunOptions {
  readonly cwd: string;
  readonly timeoutMs: number;
  /** Env keys whose names are removed from the child's environment (the managed secrets). */
  readonly secretKeys: readonly string[];
  /** Extra variables for the child (from `passEnv`). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Where to store the redacted output. */
  readonly logFile?: string;
  /** How long after SIGTERM a timed-out command gets before SIGKILL. */
  readonly killGraceMs?: number;
  /** Written to the command's stdin (the channel for secrets: never argv, never the environment). */
  readonly input?: string;
}

export const MAX_OUTPUT = 1024 * 1024;

/**
 * Runs a shell command and returns its outcome; throws only when it cannot be started.
 *
 * @example
 * const r = await runCommand('bash scripts/deploy.sh deploy', { cwd, timeoutMs: 300_000, secretKeys });
 * if (r.exitCode !== 0) console.error(lastLines(r.output, 20));
 */
export async function runCommand(command: string, options: RunOptions): Promise<CommandResult> {
  const started = Date.now();
  const env = childEnv(options.secretKeys, options.extraEnv);
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: options.cwd,
    env,
    detached: true,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // the command may exit without reading
    child.stdin.end(options.input);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const collect = (b: Buffer) => {
    chunks.push(b);
    size += b.length;
    while (size > MAX_OUTPUT * 2 && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 5000);
  }, options.timeoutMs);

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on('error', (e) =>
        reject(new RekeyError('ERR_DEPLOY_FAILED', `cannot start the command: ${e.message}`)),
      );
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    },
  );
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  if (timedOut) killGroup(child.pid, 'SIGKILL');

  let raw = Buffer.concat(chunks).toString('utf8');
  if (raw.length > MAX_OUTPUT) raw = `[… earlier output cut]\n${raw.slice(-MAX_OUTPUT)}`;
  const output = redactor.redact(raw);
  if (options.logFile) {
    await ensurePrivateDir(path.dirname(options.logFile));
    await writeFileAtomic(options.logFile, `$ ${command}\n${output}`, { mode: 0o600 });
  }
  return {
    exitCode: code,
    signal,
    timedOut,
    ms: Date.now() - started,
    output,
    ...(options.logFile ? { logFile: options.logFile } : {}),
  };
}

/** The environment a child gets: ours, minus anything that names or holds a managed secret. */
export function childEnv(
  secretKeys: readonly string[],
  extra: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  const names = new Set(secretKeys);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || names.has(k) || k.startsWith('REKEY_CRASH') || redactor.leaks(v)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** The last `n` lines of a text. */
export function lastLines(text: string, n: number): string[] {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  return lines.slice(Math.max(0, lines.length - n));
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
