/**
 * Who runs a command, for the audit log and change requests: `--operator`, else git's `user.email`
 * (read in the config's folder, so a repository-local identity wins), else the OS user.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * @example
 * await operatorIdentity('/srv/app');            // 'alice@example.com' (git user.email)
 * await operatorIdentity('/srv/app', 'oncall-1'); // 'oncall-1'
 */
export async function operatorIdentity(dir: string, explicit?: string): Promise<string> {
  const given = explicit?.trim();
  if (given) return given;
  try {
    const { stdout } = await run('git', ['config', 'user.email'], { cwd: dir, timeout: 5000 });
    const email = stdout.trim();
    if (email) return email;
  } catch {
    // no git, or no user.email configured
  }
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}
