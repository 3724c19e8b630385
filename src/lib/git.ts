/**
 * Running git on the repository around a path: the one place rekey spawns git. Only names and object
 * ids go in argv; contents (when a caller sends any) go through stdin, never argv. The variables that
 * would point git at another repository than the one around `cwd` are removed.
 */
import { spawn } from 'node:child_process';
import { RekeyError } from './errors.js';

const GIT_TIMEOUT_MS = 15_000;
/** What a git command may print before it is stopped (the history scan reads blobs through it). */
const MAX_OUTPUT = 256 * 1024 * 1024;

/** Variables that would point git at another repository than the one around the file. */
const REPO_OVERRIDES = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
];

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (blobs are not always UTF-8). */
  bytes: Buffer;
}

export interface GitOptions {
  /** Written to git's stdin (object ids for `cat-file --batch`). */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/**
 * Runs git in `cwd`; undefined when git is not installed. A timeout or an output over the limit is
 * an ERR_IO naming the folder.
 *
 * @example
 * const r = await git('/srv/app', ['rev-parse', '--show-toplevel']); // { code: 0, stdout: '/srv\n', … }
 */
export function git(
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<GitResult | undefined> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LC_ALL: 'C',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_TERMINAL_PROMPT: '0',
  };
  for (const name of REPO_OVERRIDES) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = 'timed out';
      child.kill('SIGKILL');
    }, options.timeoutMs ?? GIT_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) {
        failure = 'output too large';
        child.kill('SIGKILL');
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // git may exit before reading all of it
    child.stdin.end(options.input ?? '');
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') resolve(undefined);
      else reject(gitFailed(cwd, e.code ?? e.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure !== undefined) return reject(gitFailed(cwd, failure));
      const bytes = Buffer.concat(out);
      resolve({
        code: code ?? 1,
        stdout: bytes.toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        bytes,
      });
    });
  });
}

/** ERR_IO for a git command that could not inspect `dir`. */
export function gitFailed(dir: string, reason: string): RekeyError {
  return new RekeyError('ERR_IO', `git could not inspect ${dir}: ${reason}`, {
    hint: 'Fix the git error named (for "dubious ownership", run rekey as the repository owner), then run again.',
  });
}
