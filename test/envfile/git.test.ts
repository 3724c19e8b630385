/** checkGit against real throwaway git repositories. */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { checkGit } from '../../src/envfile/index.js';
import { captureStderr, rekeyErrorAsync, tempDir } from './helpers.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=rekey-test', '-c', 'user.email=test@rekey.invalid', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A new repository in a temp dir, with an env file in it. */
async function repo(options: { ignore?: string } = {}): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  git(dir, 'init', '-q');
  if (options.ignore !== undefined) await fs.writeFile(path.join(dir, '.gitignore'), options.ignore);
  const file = path.join(dir, '.env.production');
  await fs.writeFile(file, 'A=1\n', { mode: 0o600 });
  return { dir, file };
}

/** Sets an environment variable until the end of the test. */
function setEnv(name: string, value: string): void {
  const old = process.env[name];
  process.env[name] = value;
  onTestFinished(() => {
    if (old === undefined) delete process.env[name];
    else process.env[name] = old;
  });
}

describe('checkGit', () => {
  it('refuses a committed env file with ERR_ENVFILE_TRACKED (exit 2), even with allowUnignored', async () => {
    const { dir, file } = await repo();
    git(dir, 'add', '.env.production');
    git(dir, 'commit', '-qm', 'oops');
    const err = await rekeyErrorAsync(checkGit(file), 'ERR_ENVFILE_TRACKED');
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`${file} is tracked by git (${file})`);
    await rekeyErrorAsync(checkGit(file, { allowUnignored: true }), 'ERR_ENVFILE_TRACKED');
  });

  it('refuses a staged env file, and a tracked one that .gitignore lists too', async () => {
    const { dir, file } = await repo();
    git(dir, 'add', '.env.production');
    await rekeyErrorAsync(checkGit(file), 'ERR_ENVFILE_TRACKED');
    await fs.writeFile(path.join(dir, '.gitignore'), '.env.production\n');
    await rekeyErrorAsync(checkGit(file), 'ERR_ENVFILE_TRACKED');
  });

  it('refuses an untracked env file git does not ignore with ERR_ENVFILE_NOT_IGNORED', async () => {
    const { file } = await repo({ ignore: 'node_modules/\n' });
    const err = await rekeyErrorAsync(checkGit(file), 'ERR_ENVFILE_NOT_IGNORED');
    expect(err.message).toBe(`${file} is in a git work tree and not ignored (${file})`);
  });

  it('accepts it with allowUnignored, with a warning', async () => {
    const { file } = await repo();
    const stderr = captureStderr();
    await expect(checkGit(file, { allowUnignored: true })).resolves.toBeUndefined();
    expect(stderr.text()).toBe(
      `warning ${file} is in a git work tree and not ignored (${await fs.realpath(file)}): one \`git add .\` would commit secrets\n` +
        `warning the backups of ${file} (.env.production.backup-*) would not be ignored by git; they hold every old secret: one \`git add .\` would commit secrets\n`,
    );
  });

  it('refuses an ignored env file whose backups would not be ignored', async () => {
    const { file } = await repo({ ignore: '.env.production\n' });
    await expect(checkGit(file)).rejects.toMatchObject({
      code: 'ERR_ENVFILE_NOT_IGNORED',
      message: expect.stringMatching(/backups of .* would not be ignored/),
    });
    const { file: covered } = await repo({ ignore: '.env.production\n.env.production.backup-*\n' });
    await expect(checkGit(covered)).resolves.toBeUndefined();
  });

  it('accepts an ignored env file, also when the rule is in a parent directory', async () => {
    const { file } = await repo({ ignore: '.env.*\n' });
    await expect(checkGit(file)).resolves.toBeUndefined();
    const { dir } = await repo({ ignore: '**/.env.production*\n' });
    await fs.mkdir(path.join(dir, 'deploy'));
    const nested = path.join(dir, 'deploy', '.env.production');
    await fs.writeFile(nested, 'A=1\n');
    await expect(checkGit(nested)).resolves.toBeUndefined();
  });

  it('accepts a file outside any work tree', async () => {
    const dir = await tempDir();
    const file = path.join(dir, '.env.production');
    await fs.writeFile(file, 'A=1\n');
    expect(() => git(dir, 'rev-parse', '--show-toplevel')).toThrow(); // the precondition
    await expect(checkGit(file)).resolves.toBeUndefined();
  });

  it('checks the real path of a symlinked env file', async () => {
    // The link sits in a repo (not ignored), the target outside any: fine.
    const { dir } = await repo();
    const outside = await tempDir();
    const target = path.join(outside, 'prod.env');
    await fs.writeFile(target, 'A=1\n');
    const link = path.join(dir, 'linked.env');
    await fs.symlink(target, link);
    await expect(checkGit(link)).resolves.toBeUndefined();
    // The link outside, the target tracked in a repo: refused.
    const tracked = await repo();
    git(tracked.dir, 'add', '.env.production');
    const link2 = path.join(outside, 'link2.env');
    await fs.symlink(tracked.file, link2);
    await rekeyErrorAsync(checkGit(link2), 'ERR_ENVFILE_TRACKED');
  });

  it('takes a file name literally, not as a glob', async () => {
    const { dir } = await repo({ ignore: 'nothing\n' });
    await fs.writeFile(path.join(dir, '.env.x'), 'A=1\n');
    git(dir, 'add', '.env.x');
    const star = path.join(dir, '.env*');
    await fs.writeFile(star, 'A=1\n');
    await rekeyErrorAsync(checkGit(star), 'ERR_ENVFILE_NOT_IGNORED');
  });

  it('inspects the repository around the file, whatever GIT_DIR says', async () => {
    const other = await repo({ ignore: '.env.production\n' });
    const { dir, file } = await repo();
    git(dir, 'add', '.env.production');
    setEnv('GIT_DIR', path.join(other.dir, '.git'));
    setEnv('GIT_WORK_TREE', other.dir);
    await rekeyErrorAsync(checkGit(file), 'ERR_ENVFILE_TRACKED');
  });

  it('accepts the file when git is not installed', async () => {
    const { dir, file } = await repo();
    git(dir, 'add', '.env.production');
    setEnv('PATH', await tempDir());
    await expect(checkGit(file)).resolves.toBeUndefined();
  });
});
