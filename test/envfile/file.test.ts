import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkEnvFileFolder,
  editEnv,
  envValues,
  readEnvFile,
  writeEnvFile,
} from '../../src/envfile/index.js';
import { entries } from '../helpers/tmp.js';
import { captureStderr, rekeyErrorAsync, tempDir } from './helpers.js';

async function envFile(dir: string, text: string | Uint8Array, mode = 0o600, name = '.env.production') {
  const file = path.join(dir, name);
  await fs.writeFile(file, text);
  await fs.chmod(file, mode);
  return file;
}

describe('readEnvFile', () => {
  it('reads, parses and reports path, real path and mode', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\nB="two"\n');
    const stderr = captureStderr();
    const env = await readEnvFile(file);
    expect(env).toMatchObject({ path: file, realPath: file, text: 'A=1\nB="two"\n', mode: 0o600 });
    expect([...envValues(env.doc)]).toEqual([
      ['A', '1'],
      ['B', 'two'],
    ]);
    expect(stderr.text()).toBe('');
  });

  it('follows a symlink to the file holding the bytes', async () => {
    const dir = await tempDir();
    const target = await envFile(dir, 'A=1\n', 0o600, 'real.env');
    const link = path.join(dir, '.env.production');
    await fs.symlink('real.env', link);
    const env = await readEnvFile(link);
    expect(env.path).toBe(link);
    expect(env.realPath).toBe(target);
  });

  it('warns when group or others can read it, naming the path and chmod 600', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n', 0o644);
    const stderr = captureStderr();
    const env = await readEnvFile(file);
    expect(env.mode).toBe(0o644);
    expect(stderr.text()).toBe(
      `warning ${file} is open to group or others (mode 0644); it holds secrets: run \`chmod 600 ${file}\`\n`,
    );
  });

  it('warns on 0640 too, not on 0600 or 0400', async () => {
    const dir = await tempDir();
    const stderr = captureStderr();
    await readEnvFile(await envFile(dir, 'A=1\n', 0o600, 'a.env'));
    await readEnvFile(await envFile(dir, 'A=1\n', 0o400, 'b.env'));
    expect(stderr.text()).toBe('');
    await readEnvFile(await envFile(dir, 'A=1\n', 0o640, 'c.env'));
    expect(stderr.text()).toContain('(mode 0640)');
  });

  it('throws ERR_ENVFILE_NOT_FOUND for a missing file or a dangling link', async () => {
    const dir = await tempDir();
    const missing = path.join(dir, 'nope.env');
    const err = await rekeyErrorAsync(readEnvFile(missing), 'ERR_ENVFILE_NOT_FOUND');
    expect(err.message).toBe(`env file not found: ${missing}`);
    const link = path.join(dir, 'dangling.env');
    await fs.symlink('gone.env', link);
    await rekeyErrorAsync(readEnvFile(link), 'ERR_ENVFILE_NOT_FOUND');
  });

  it('names the file and line of a parse error, never the content', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\nB="s3cr3t-value\n');
    const err = await rekeyErrorAsync(readEnvFile(file), 'ERR_ENVFILE_PARSE');
    expect(err.message).toBe(`${file} line 2: unterminated double quote`);
  });

  it('refuses a file that is not valid UTF-8 (it could not be written back unchanged)', async () => {
    const dir = await tempDir();
    const file = await envFile(
      dir,
      Buffer.concat([Buffer.from('A=1\nB=caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    );
    const err = await rekeyErrorAsync(readEnvFile(file), 'ERR_ENVFILE_PARSE');
    expect(err.message).toBe(`${file} line 2: not valid UTF-8`);
  });

  it('keeps a BOM in the text', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, '\uFEFFA=1\r\n');
    const env = await readEnvFile(file);
    expect(env.text).toBe('\uFEFFA=1\r\n');
    expect(env.doc).toMatchObject({ bom: true, eol: '\r\n' });
  });
});

describe('writeEnvFile', () => {
  it('replaces the content, narrows the mode to 0600 by default, leaving no temp file', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n', 0o644);
    await writeEnvFile(file, 'A=2\n');
    expect(await fs.readFile(file, 'utf8')).toBe('A=2\n');
    expect((await fs.stat(file)).mode & 0o7777).toBe(0o600);
    expect(await entries(dir)).toEqual(['.env.production']);
  });

  it.each([
    [0o644, 0o640, 0o640],
    [0o640, 0o640, 0o640],
    [0o600, 0o640, 0o600],
    [0o400, 0o640, 0o400],
  ])('a %o file written with mode %o ends %o (never wider than it was)', async (before, mode, after) => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n', before);
    await writeEnvFile(file, 'A=2\n', { mode });
    expect((await fs.stat(file)).mode & 0o7777).toBe(after);
  });

  it('with realPath: writes there only while the link still leads there, else writes nothing', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'a'));
    await fs.mkdir(path.join(dir, 'b'));
    const a = await envFile(path.join(dir, 'a'), 'A=1\n', 0o600, 'prod.env');
    const b = await envFile(path.join(dir, 'b'), 'A=1\n', 0o600, 'prod.env');
    const link = path.join(dir, '.env.production');
    await fs.symlink('a/prod.env', link);
    await writeEnvFile(link, 'A=2\n', { realPath: a });
    expect(await fs.readFile(a, 'utf8')).toBe('A=2\n');
    await fs.rm(link);
    await fs.symlink('b/prod.env', link);
    await rekeyErrorAsync(writeEnvFile(link, 'A=3\n', { realPath: a }), 'ERR_ENVFILE_CHANGED');
    expect(await fs.readFile(a, 'utf8')).toBe('A=2\n');
    expect(await fs.readFile(b, 'utf8')).toBe('A=1\n');
    expect((await fs.readdir(path.join(dir, 'b'))).sort()).toEqual(['prod.env']);
  });

  it('replaces the file atomically (a new inode, renamed over the old one)', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n');
    const before = (await fs.stat(file)).ino;
    await writeEnvFile(file, 'A=2\n');
    expect((await fs.stat(file)).ino).not.toBe(before);
  });

  it('writes a symlinked env file at its target and leaves the link in place', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'secrets'));
    const target = await envFile(path.join(dir, 'secrets'), 'A=1\n', 0o600, 'prod.env');
    const link = path.join(dir, '.env.production');
    await fs.symlink('secrets/prod.env', link);
    await writeEnvFile(link, 'A=2\n');
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
    expect(await fs.readlink(link)).toBe('secrets/prod.env');
    expect(await fs.readFile(target, 'utf8')).toBe('A=2\n');
    expect(await entries(dir)).toEqual(['.env.production', 'secrets']);
    expect(await fs.readdir(path.join(dir, 'secrets'))).toEqual(['prod.env']);
  });

  it('creates a missing file 0600', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'new.env');
    await writeEnvFile(file, 'A=1\n');
    expect((await fs.stat(file)).mode & 0o7777).toBe(0o600);
  });

  it.skipIf(process.getuid?.() !== 0)('keeps the owner of the file (as root)', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n', 0o640);
    await fs.chown(file, 4321, 4322);
    await writeEnvFile(file, 'A=2\n');
    const st = await fs.stat(file);
    expect([st.uid, st.gid]).toEqual([4321, 4322]);
  });

  it('writes the exact bytes of an edit (BOM, CRLF, no final newline)', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, '\uFEFFA=1\r\nB="x" # c');
    const env = await readEnvFile(file);
    await writeEnvFile(file, editEnv(env.doc, [{ key: 'B', value: 'y z' }]));
    expect(await fs.readFile(file)).toEqual(Buffer.from('\uFEFFA=1\r\nB="y z" # c', 'utf8'));
  });
});

describe('checkEnvFileFolder', () => {
  it.each([
    [0o700, undefined],
    [0o755, undefined],
    [0o750, undefined],
    [0o770, 'ERR_ENVFILE_UNSAFE_DIR'],
    [0o757, 'ERR_ENVFILE_UNSAFE_DIR'],
    [0o777, 'ERR_ENVFILE_UNSAFE_DIR'],
    [0o1777, undefined], // sticky and owned by the user running the test
  ])('folder mode %o → %s', async (mode, code) => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n');
    await fs.chmod(dir, mode);
    try {
      if (code === undefined) await checkEnvFileFolder(file);
      else await rekeyErrorAsync(checkEnvFileFolder(file), code);
    } finally {
      await fs.chmod(dir, 0o700);
    }
  });

  it('refuses a sticky folder owned by someone else (/tmp itself, owned by root)', async () => {
    const st = await fs.stat('/tmp');
    if ((st.mode & 0o1002) !== 0o1002 || st.uid === process.getuid?.()) return; // not such a /tmp here
    const e = await rekeyErrorAsync(checkEnvFileFolder('/tmp/.env.production'), 'ERR_ENVFILE_UNSAFE_DIR');
    expect(e.hint).toContain('chmod go-w /tmp');
  });
});
