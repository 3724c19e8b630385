/**
 * The env file's modes, its folder and its symlink, through the built CLI (issue 11, item 8):
 * written 0600 (or `envFileMode`, never wider than it was); a folder others can write is refused
 * before anything changes; the symlink is resolved once, at preflight, and a link swapped before the
 * commit never receives the new values (the rotation rolls back).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { record } from '../helpers/resilience.js';
import { ENV_TEXT, INITIAL, type Stack, useStacks } from './stack.js';

const stack = useStacks();

const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o7777;

/** Nothing changed: env file bytes and mode, no backup, no journal, services on the old values. */
async function unchanged(s: Stack, mode: number): Promise<boolean> {
  const names = await fs.readdir(s.dir);
  return (
    (await fs.readFile(s.envFile, 'utf8')) === ENV_TEXT &&
    (await modeOf(s.envFile)) === mode &&
    !names.some((n) => n.includes('.backup-')) &&
    !existsSync(path.join(s.stateDir, 'journal.json')) &&
    (await s.accepted('SINGLE_PASSWORD'))[0] === INITIAL.SINGLE_PASSWORD &&
    (await s.accepted('OVERLAP_PASSWORD'))[0] === INITIAL.OVERLAP_PASSWORD
  );
}

describe('env file mode', () => {
  it('a 0644 env file is 0600 after the rotation', async () => {
    const s = await stack();
    await fs.chmod(s.envFile, 0o644);
    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(await modeOf(s.envFile)).toBe(0o600);
  });

  it('envFileMode "0640" is applied, never wider than the file was', async () => {
    const wide = await stack({ extraConfig: 'envFileMode: "0640"' });
    await fs.chmod(wide.envFile, 0o644);
    expect((await wide.run(['rotate', '--yes'])).code).toBe(0);
    expect(await modeOf(wide.envFile)).toBe(0o640);

    const narrow = await stack({ extraConfig: 'envFileMode: "0640"' });
    expect(await modeOf(narrow.envFile)).toBe(0o600);
    expect((await narrow.run(['rotate', '--yes'])).code).toBe(0);
    expect(await modeOf(narrow.envFile)).toBe(0o600);
  }, 180_000);

  it('an envFileMode wider than 0640 is a config error (exit 2)', async () => {
    const s = await stack({ extraConfig: 'envFileMode: "0666"' });
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('ERR_CONFIG_INVALID');
    expect(await unchanged(s, 0o600)).toBe(true);
  });
});

describe("env file's folder", () => {
  it.each([
    ['group-writable', 0o770],
    ['world-writable', 0o777],
  ])(
    'a %s folder is refused: exit 2, ERR_ENVFILE_UNSAFE_DIR, `chmod go-w`, nothing changed',
    async (what, mode) => {
      const s = await stack();
      await fs.chmod(s.dir, mode);
      const r = await s.run(['rotate', '--yes', '--json']);
      await fs.chmod(s.dir, 0o700);
      const doc = JSON.parse(r.stdout);
      const same = await unchanged(s, 0o600);
      record({
        kind: 'bad-input',
        suite: 'env file safety',
        case: `env file in a ${what} folder`,
        exit: r.code,
        code: doc.error?.code ?? '',
        unchanged: same,
      });
      expect(r.code).toBe(2);
      expect(doc.error.code).toBe('ERR_ENVFILE_UNSAFE_DIR');
      expect(doc.error.message).toContain(s.dir);
      expect(doc.error.hint).toContain(`chmod go-w ${s.dir}`);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(same).toBe(true);
    },
  );

  it('a sticky folder owned by the user is accepted', async () => {
    const s = await stack();
    await fs.chmod(s.dir, 0o1777);
    const r = await s.run(['rotate', '--yes']);
    await fs.chmod(s.dir, 0o700);
    expect(r.code, r.stderr).toBe(0);
  });

  it("the symlink's own folder counts too", async () => {
    const s = await stack();
    // .env.production → real/.env.production, the link in a group-writable folder.
    await fs.mkdir(path.join(s.dir, 'real'), { mode: 0o700 });
    await fs.rename(s.envFile, path.join(s.dir, 'real', '.env.production'));
    await fs.symlink('real/.env.production', s.envFile);
    await fs.chmod(s.dir, 0o770);
    const r = await s.run(['rotate', '--yes', '--json']);
    await fs.chmod(s.dir, 0o700);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('ERR_ENVFILE_UNSAFE_DIR');
  });
});

describe('a symlink swapped between preflight and commit (attacker)', () => {
  it('the new values never reach the other file; the rotation rolls back', async () => {
    const s = await stack();
    const real = path.join(s.dir, 'real', '.env.production');
    const other = path.join(s.dir, 'elsewhere', '.env.production');
    await fs.mkdir(path.dirname(real), { mode: 0o700 });
    await fs.mkdir(path.dirname(other), { mode: 0o700 });
    await fs.rename(s.envFile, real);
    await fs.symlink('real/.env.production', s.envFile);
    // The attacker's file is a byte-identical copy: a content check alone cannot tell them apart.
    await fs.writeFile(other, ENV_TEXT, { mode: 0o600 });

    const pauseFile = path.join(s.dir, 'pause');
    const running = s.run(['rotate', '--yes', '--json'], {
      env: { REKEY_PAUSE_AT: 'commit@begin', REKEY_PAUSE_FILE: pauseFile },
    });
    for (let i = 0; i < 2400 && !existsSync(pauseFile); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(pauseFile)).toBe(true);
    // Swap the link atomically, as an attacker with write access to the folder would.
    await fs.symlink('elsewhere/.env.production', `${s.envFile}.swap`);
    await fs.rename(`${s.envFile}.swap`, s.envFile);
    await fs.rm(pauseFile);
    const r = await running;
    const doc = JSON.parse(r.stdout);

    const otherText = await fs.readFile(other, 'utf8');
    const realText = await fs.readFile(real, 'utf8');
    const rolledBack =
      r.code === 1 &&
      doc.outcome === 'rolled-back' &&
      realText === ENV_TEXT &&
      (await s.accepted('SINGLE_PASSWORD'))[0] === INITIAL.SINGLE_PASSWORD &&
      (await s.accepted('OVERLAP_PASSWORD'))[0] === INITIAL.OVERLAP_PASSWORD;
    record({
      kind: 'failure',
      suite: 'env file safety',
      point: 'commit@begin',
      cause: 'env file symlink swapped to another (identical) file',
      exit: r.code,
      rolledBack,
    });
    expect(otherText).toBe(ENV_TEXT); // not one new value reached it
    expect(doc.error.code).toBe('ERR_ENVFILE_CHANGED');
    expect(doc.error.message).toMatch(/not written/);
    expect(rolledBack, r.stderr).toBe(true);
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(false);
    expect((await fs.readdir(path.dirname(other))).sort()).toEqual(['.env.production']);
  }, 180_000);
});
