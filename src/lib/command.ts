/**
 * Runs a configured shell command (deploy / rollback, a `command` secret's set / test): through
 * `/bin/sh -c`, in its own process group (so a timeout kills the whole tree; the caller can journal
 * the group before the command starts, and `settleLeftOver` waits for or ends a group a killed rekey
 * left running), with a timeout, its output captured, redacted of every known secret value and stored
 * in the state directory. The child's environment carries no secret: variables named
 * like a managed key, or whose value is a known secret, are removed; `passEnv` keys are added from the
 * env file only when the config asks for them.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { RekeyError } from './errors.js';
import { ensurePrivateDir, writeFileAtomic } from './fsx.js';
import { killGroup } from './process-group.js';
import { redactor } from './redact.js';

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
  /**
   * Called with the process group's id once it exists, before the command may start: the command
   * starts only when this resolves (the journal then names a deploy a killed rekey leaves running);
   * if it throws, the command never starts and the error is thrown.
   */
  readonly started?: (pgid: number) => Promise<void>;
}

/**
 * Runs `$1` once a line arrives on fd 3, from the same pid (exec), so its process group is the one
 * reported by `started`. If rekey dies first, fd 3 reads end-of-file and nothing runs (exit 125).
 */
const GATE = 'IFS= read -r _ <&3 || exit 125; exec 3<&-; exec /bin/sh -c "$1"';

export const MAX_OUTPUT = 1024 * 1024;

/** Process groups of the commands running now (killed when the user insists on exiting). */
const runningGroups = new Set<number>();
/** Set by {@link haltCommands}: no command starts and none reports back, so the rotation stays put. */
let halted = false;
const parked = () => new Promise<never>(() => {});

/**
 * Signals every command rekey is running (each in its own process group), for a hard exit: a
 * deploy must not go on behind the back of the `rekey recover` that follows.
 *
 * @example
 * killRunningCommands('SIGTERM');
 */
export function killRunningCommands(signal: NodeJS.Signals): number {
  for (const pid of runningGroups) killGroup(pid, signal);
  return runningGroups.size;
}

/**
 * For a hard exit: from now on no command starts, and a running one never reports back (so the
 * rotation cannot move on to its next step while the process winds down); signals the running ones.
 * Returns how many are still running.
 *
 * @example
 * haltCommands('SIGTERM');
 */
export function haltCommands(signal: NodeJS.Signals): number {
  halted = true;
  return killRunningCommands(signal);
}

/** How many commands are running now. */
export function runningCommands(): number {
  return runningGroups.size;
}

/**
 * Runs a shell command and returns its outcome; throws only when it cannot be started.
 *
 * @example
 * const r = await runCommand('bash scripts/deploy.sh deploy', { cwd, timeoutMs: 300_000, secretKeys });
 * if (r.exitCode !== 0) console.error(lastLines(r.output, 20));
 */
export async function runCommand(command: string, options: RunOptions): Promise<CommandResult> {
  if (halted) return parked();
  const started = Date.now();
  const env = childEnv(options.secretKeys, options.extraEnv);
  const gated = options.started !== undefined;
  const child = spawn('/bin/sh', gated ? ['-c', GATE, 'rekey-deploy', command] : ['-c', command], {
    cwd: options.cwd,
    env,
    detached: true,
    stdio: [
      options.input === undefined ? 'ignore' : 'pipe',
      'pipe',
      'pipe',
      ...(gated ? ['pipe' as const] : []),
    ],
  });
  const gate = gated ? (child.stdio[3] as Writable | null) : null;
  gate?.on('error', () => {}); // the command may be gone already
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (e) =>
      reject(new RekeyError('ERR_DEPLOY_FAILED', `cannot start the command: ${e.message}`)),
    );
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  exited.catch(() => {}); // awaited below; a rejection while `started` runs is not unhandled
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // the command may exit without reading
    child.stdin.end(options.input);
  }
  if (child.pid !== undefined) runningGroups.add(child.pid);
  // Whole lines only reach the combined buffer (per stream), so a secret is never split by the other
  // stream's output and redaction always sees it whole (generated values hold no newline).
  const lines: string[] = [];
  let size = 0;
  const keep = (text: string) => {
    lines.push(text);
    size += text.length;
    while (size > MAX_OUTPUT * 2 && lines.length > 1) size -= lines.shift()!.length;
  };
  const lineBuffered = () => {
    let pending = '';
    // One decoder per stream: a character split across two chunks is decoded whole, so a secret
    // holding non-ASCII characters still matches the redactor.
    const decoder = new StringDecoder('utf8');
    return {
      data(b: Buffer) {
        pending += decoder.write(b);
        const cut = pending.lastIndexOf('\n');
        if (cut >= 0) {
          keep(pending.slice(0, cut + 1));
          pending = pending.slice(cut + 1);
        }
        if (pending.length > MAX_OUTPUT) {
          keep(pending);
          pending = '';
        }
      },
      end() {
        pending += decoder.end();
        if (pending) keep(pending);
        pending = '';
      },
    };
  };
  const out = lineBuffered();
  const err = lineBuffered();
  child.stdout?.on('data', out.data);
  child.stderr?.on('data', err.data);
  if (options.started !== undefined) {
    try {
      if (child.pid === undefined) throw new RekeyError('ERR_DEPLOY_FAILED', 'cannot start the command');
      await options.started(child.pid);
    } catch (e) {
      gate?.destroy(); // end-of-file: the gate exits without running the command
      killGroup(child.pid, 'SIGKILL');
      if (child.pid !== undefined) runningGroups.delete(child.pid);
      throw e;
    }
    gate?.end('go\n');
  }

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), options.killGraceMs ?? 5000);
  }, options.timeoutMs);

  const { code, signal } = await exited;
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  if (timedOut) killGroup(child.pid, 'SIGKILL');
  if (child.pid !== undefined) runningGroups.delete(child.pid);
  if (halted) return parked();
  out.end();
  err.end();

  // Redact first, then cut at a line boundary: a cut never leaves part of a secret unmasked.
  let output = redactor.redact(lines.join(''));
  if (output.length > MAX_OUTPUT) {
    const tail = output.slice(-MAX_OUTPUT);
    output = `[… earlier output cut]\n${tail.slice(tail.indexOf('\n') + 1)}`;
  }
  if (options.logFile) {
    await ensurePrivateDir(path.dirname(options.logFile));
    await writeFileAtomic(options.logFile, `$ ${redactor.redact(command)}\n${output}`, { mode: 0o600 });
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

export { type LeftOver, settleLeftOver } from './process-group.js';

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

/**
 * Marks a line of a command's output inside an error's details: people see it on stderr, while
 * `--json` leaves it out unless `--verbose` (a deploy prints what it likes, and the redactor can only
 * mask the forms of a secret it knows).
 */
export const OUTPUT_LINE = '│ ';

/**
 * The last `n` lines of a (redacted) command output, as error details marked {@link OUTPUT_LINE}.
 *
 * @example
 * throw new RekeyError('ERR_DEPLOY_FAILED', 'deploy command failed', { details: outputDetails(r.output) });
 */
export function outputDetails(output: string, n = 20): string[] {
  return lastLines(output, n).map((l) => `${OUTPUT_LINE}${l}`);
}

/** Whether an error detail is a line of a command's output (see {@link outputDetails}). */
export function isOutputLine(detail: string): boolean {
  return detail.trimStart().startsWith(OUTPUT_LINE);
}

/** The last `n` lines of a text. */
export function lastLines(text: string, n: number): string[] {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  return lines.slice(Math.max(0, lines.length - n));
}
