/**
 * Keeping the env file out of version control: refuse a file git tracks, and one in a work tree that
 * git does not ignore. Only file names reach git, never contents.
 */
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { resolveSymlink } from '../lib/fsx.js';
import { git, gitFailed } from '../lib/git.js';
import { log } from '../lib/log.js';

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}

/**
 * Checks that the env file is kept out of git. No git, or a file outside any work tree: fine. Tracked
 * (or staged): ERR_ENVFILE_TRACKED, always. In a work tree and not ignored: ERR_ENVFILE_NOT_IGNORED,
 * unless `allowUnignored` (then a warning). The check runs on the file's real path.
 *
 * @example
 * await checkGit('.env.production');
 * await checkGit('.env.production', { allowUnignored: true });
 */
export async function checkGit(file: string, options: { allowUnignored?: boolean } = {}): Promise<void> {
  const realPath = await resolveSymlink(file);
  const dir = path.dirname(realPath);
  const name = path.basename(realPath);
  const inside = await git(dir, ['rev-parse', '--is-inside-work-tree']);
  if (inside === undefined) {
    log.debug(`git not found: cannot check whether ${file} is kept out of version control`);
    return;
  }
  if (inside.code !== 0) {
    if (/not a git repository/i.test(inside.stderr)) return;
    throw gitFailed(dir, firstLine(inside.stderr) || `exit ${inside.code}`);
  }
  if (inside.stdout.trim() !== 'true') return;

  const tracked = await git(dir, ['--literal-pathspecs', 'ls-files', '--error-unmatch', '--', name]);
  if (tracked?.code === 0) {
    throw new RekeyError('ERR_ENVFILE_TRACKED', `${file} is tracked by git (${realPath})`);
  }
  if (tracked === undefined || tracked.code !== 1) {
    throw gitFailed(dir, firstLine(tracked?.stderr ?? '') || `exit ${tracked?.code}`);
  }

  // The backups rekey writes beside the env file hold every old secret: they must be ignored too.
  const backup = `${name}.backup-20000101T000000Z`;
  for (const [candidate, what] of [
    [name, `${file} is in a git work tree and not ignored (${realPath})`],
    [
      backup,
      `the backups of ${file} (${name}.backup-*) would not be ignored by git; they hold every old secret`,
    ],
  ] as const) {
    const ignored = await git(dir, ['check-ignore', '-q', '--no-index', '--', candidate]);
    if (ignored?.code === 0) continue;
    if (ignored === undefined || ignored.code !== 1) {
      throw gitFailed(dir, firstLine(ignored?.stderr ?? '') || `exit ${ignored?.code}`);
    }
    if (options.allowUnignored) {
      log.warn(`${what}: one \`git add .\` would commit secrets`);
      continue;
    }
    throw new RekeyError('ERR_ENVFILE_NOT_IGNORED', what, {
      hint: `Add \`${name}\` and \`${name}.backup-*\` to .gitignore, or pass --allow-unignored if you accept the risk.`,
    });
  }
}
