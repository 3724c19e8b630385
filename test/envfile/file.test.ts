import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editEnv, envValues, readEnvFile, writeEnvFile } from '../../src/envfile/index.js';
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
  it('replaces the content and keeps the mode (0640 stays 0640), leaving no temp file', async () => {
    const dir = await tempDir();
    const file = await envFile(dir, 'A=1\n', 0o640);
    await writeEnvFile(file, 'A=2\n');
    expect(await fs.readFile(file, 'utf8')).toBe('A=2\n');
    expect((await fs.stat(file)).mode & 0o7777).toBe(0o640);
    expect(await entries(dir)).toEqual(['.env.production']);
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
