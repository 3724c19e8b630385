/**
 * Running the services' programs: a minimal environment (no secret of ours reaches a child through
 * its environment), PATH look-ups, and dropping root to a service user with `setpriv`.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** True when this process runs as root (initdb and postgres then need another user). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The environment given to every child: PATH, the C locale and UTC, nothing else.
 *
 * @example
 * spawn('redis-server', args, { env: minimalEnv() });
 */
export function minimalEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' };
}

/**
 * Whether `path` is an executable file.
 *
 * @example
 * if (await isExecutable('/usr/lib/postgresql/15/bin/initdb')) { ... }
 */
export async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * The first executable called `name` on PATH, or undefined.
 *
 * @example
 * const redis = await which('redis-server'); // '/usr/bin/redis-server'
 */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The last `lines` lines of `text`, for error messages that quote a server log: '' when there is
 * nothing, else a colon, a newline and the lines.
 *
 * @example
 * throw new Error(`postgres exited during start-up${tail(log)}`);
 */
export function tail(text: string, lines = 20): string {
  const last = text.trim().split('\n').slice(-lines).join('\n');
  return last === '' ? '' : `:\n${last}`;
}

/**
 * Runs a program to completion and returns its stdout; rejects with its stderr tail on failure.
 * Arguments must never hold a secret (they are visible in `ps`).
 *
 * @example
 * const bindir = (await run('pg_config', ['--bindir'])).trim();
 */
export function run(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const settings = {
    env: minimalEnv(),
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 16 << 20,
  };
  return new Promise((resolve, reject) => {
    execFile(cmd, args, settings, (error, stdout, stderr) => {
      if (error === null) return resolve(stdout);
      const output = tail(`${stdout}\n${stderr}`, 15);
      reject(new Error(`${cmd} ${args.join(' ')} failed (${error.message.split('\n')[0]})${output}`));
    });
  });
}

export interface Wrap {
  /** Run as this system user (needs root and setpriv). */
  user?: string | undefined;
  /** Signal the child gets when this process dies, even by SIGKILL (Linux, via setpriv). */
  deathSignal?: NodeJS.Signals | undefined;
}

/**
 * Prefixes a command with `setpriv` to change user and/or set a parent-death signal. setpriv execs
 * the program, so the child's pid is the program's pid. Without setpriv the death signal is skipped;
 * a user change then fails with a clear error.
 *
 * @example
 * const [cmd, args] = await wrapCommand('/usr/lib/postgresql/15/bin/postgres', ['-D', dir], { user: 'postgres' });
 */
export async function wrapCommand(
  cmd: string,
  args: readonly string[],
  wrap: Wrap,
): Promise<[string, string[]]> {
  if (wrap.user === undefined && wrap.deathSignal === undefined) return [cmd, [...args]];
  const setpriv = await which('setpriv');
  if (setpriv === undefined) {
    if (wrap.user !== undefined) {
      throw new Error(
        `setpriv (util-linux) is needed to run ${cmd} as the ${wrap.user} user; install util-linux`,
      );
    }
    return [cmd, [...args]];
  }
  const prefix: string[] = [];
  if (wrap.user !== undefined) prefix.push(`--reuid=${wrap.user}`, `--regid=${wrap.user}`, '--init-groups');
  if (wrap.deathSignal !== undefined) prefix.push('--pdeathsig', wrap.deathSignal);
  return [setpriv, [...prefix, cmd, ...args]];
}
