import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatBackupTime, listBackups, writeBackup } from '../../src/envfile/index.js';
import { entries } from '../helpers/tmp.js';
import { rekeyError, rekeyErrorAsync, tempDir } from './helpers.js';

const NOW = new Date('2026-11-25T10:00:00.789Z');
/** Bytes that a text round trip could mangle: BOM, CRLF, a lone CR, no final newline. */
const BYTES = Buffer.from('\uFEFFA=1\r\nB="x\ry"\r\nC=日本', 'utf8');

async function envFile(dir: string, mode = 0o644): Promise<string> {
  const file = path.join(dir, '.env.production');
  await fs.writeFile(file, BYTES);
  await fs.chmod(file, mode);
  return file;
}

describe('formatBackupTime', () => {
  it('is UTC YYYYMMDDTHHMMSSZ', () => {
    expect(formatBackupTime(NOW)).toBe('20261125T100000Z');
    expect(formatBackupTime(new Date('2027-01-02T03:04:05Z'))).toBe('20270102T030405Z');
  });

  it('refuses an invalid date', () => {
    rekeyError(() => formatBackupTime(new Date(Number.NaN)), 'ERR_INTERNAL');
  });
});

describe('writeBackup', () => {
  it('writes a byte-identical 0600 copy next to the file and returns its path', async () => {
    const dir = await tempDir();
    const file = await envFile(dir);
    const backup = await writeBackup(file, NOW);
    expect(backup).toBe(`${file}.backup-20261125T100000Z`);
    expect(await fs.readFile(backup)).toEqual(BYTES);
    expect((await fs.stat(backup)).mode & 0o7777).toBe(0o600);
    expect((await fs.stat(file)).mode & 0o7777).toBe(0o644);
  });

  it('never overwrites: a same-second backup gets -2, -3', async () => {
    const dir = await tempDir();
    const file = await envFile(dir);
    const first = await writeBackup(file, NOW);
    await fs.writeFile(file, 'A=changed\n');
    const second = await writeBackup(file, NOW);
    const third = await writeBackup(file, new Date('2026-11-25T10:00:00.001Z'));
    expect(second).toBe(`${first}-2`);
    expect(third).toBe(`${first}-3`);
    expect(await fs.readFile(first)).toEqual(BYTES);
    expect(await fs.readFile(second, 'utf8')).toBe('A=changed\n');
  });

  it('backs up a symlinked env file next to its target', async () => {
    const dir = await tempDir();
    await fs.mkdir(path.join(dir, 'real'));
    const target = await envFile(path.join(dir, 'real'));
    const link = path.join(dir, 'link.env');
    await fs.symlink(target, link);
    const backup = await writeBackup(link, NOW);
    expect(backup).toBe(`${target}.backup-20261125T100000Z`);
    expect(await fs.readFile(backup)).toEqual(BYTES);
  });

  it('refuses when the file changed since it was read, writing nothing', async () => {
    const dir = await tempDir();
    const file = await envFile(dir);
    await rekeyErrorAsync(writeBackup(file, NOW, { expected: 'A=old\n' }), 'ERR_ENVFILE_CHANGED');
    expect(await entries(dir)).toEqual(['.env.production']);
    expect(await writeBackup(file, NOW, { expected: BYTES.toString('utf8') })).toBe(
      `${file}.backup-20261125T100000Z`,
    );
  });

  it('throws ERR_ENVFILE_NOT_FOUND when the env file is missing', async () => {
    const dir = await tempDir();
    await rekeyErrorAsync(writeBackup(path.join(dir, 'none.env'), NOW), 'ERR_ENVFILE_NOT_FOUND');
  });
});

describe('listBackups', () => {
  it('lists the backups newest first, same-second suffixes by number, ignoring other files', async () => {
    const dir = await tempDir();
    const file = await envFile(dir);
    const names = [
      '.env.production.backup-20260101T000000Z',
      '.env.production.backup-20261125T100000Z',
      '.env.production.backup-20261125T100000Z-2',
      '.env.production.backup-20261125T100000Z-10',
      '.env.production.backup-20250505T050505Z',
      '.env.production.backup-latest',
      '.env.production.backup-20261125T100000Z-1',
      '.env.production.backup-20261125T100000Z.tmp',
      '.env.staging.backup-20270101T000000Z',
      'x.env.production.backup-20270101T000000Z',
    ];
    for (const n of names) await fs.writeFile(path.join(dir, n), '');
    expect(await listBackups(file)).toEqual(
      [
        '.env.production.backup-20261125T100000Z-10',
        '.env.production.backup-20261125T100000Z-2',
        '.env.production.backup-20261125T100000Z',
        '.env.production.backup-20260101T000000Z',
        '.env.production.backup-20250505T050505Z',
      ].map((n) => path.join(dir, n)),
    );
  });

  it('lists what writeBackup wrote, through a symlink too', async () => {
    const dir = await tempDir();
    const file = await envFile(dir);
    const link = path.join(dir, 'link.env');
    await fs.symlink(file, link);
    const a = await writeBackup(link, new Date('2026-01-01T00:00:00Z'));
    const b = await writeBackup(file, new Date('2026-06-01T00:00:00Z'));
    const c = await writeBackup(file, new Date('2026-06-01T00:00:00Z'));
    expect(await listBackups(link)).toEqual([c, b, a]);
  });

  it('is empty when there are none', async () => {
    const dir = await tempDir();
    expect(await listBackups(await envFile(dir))).toEqual([]);
    expect(await listBackups(path.join(dir, 'missing', '.env'))).toEqual([]);
  });
});
