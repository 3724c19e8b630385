/**
 * The status read from real files in a temp folder: the audit log, the env file's annotation (and
 * those in backups), the journal history, a pending journal and the scheduler's state.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readPolicyInputs, readStatus } from '../../src/policy/inputs.js';
import { tempDir } from '../helpers/tmp.js';
import { NOW, writePendingJournal } from './helpers.js';

const VALUES =
  'A_SECRET=aaaaaaaaaaaaaaaaaaaa\nB_SECRET=bbbbbbbbbbbbbbbbbbbb\nC_SECRET=cccccccccccccccccccc\nD_SECRET=dddddddddddddddddddd\n';

async function stack(): Promise<string> {
  const dir = await tempDir('rekey-policy-');
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production
stack: prod
secrets:
  - { key: A_SECRET, type: generic }
  - { key: B_SECRET, type: generic }
  - { key: C_SECRET, type: generic }
  - { key: D_SECRET, type: generic }
`,
  );
  const write = (name: string, text: string) => fs.writeFile(path.join(dir, name), text, { mode: 0o600 });
  await write('.env.production', `# LastSecretRotation: 2026-05-30T09:00:00Z\n${VALUES}`);
  // Backups: what the env file held before each rotation (the old script's annotation, then R1's).
  await write('.env.production.backup-20260301T000000Z', `# LastSecretRotation: 2026-01-15\n${VALUES}`);
  await write(
    '.env.production.backup-20260530T090000Z',
    `# LastSecretRotation: 2026-03-01T00:00:00Z\n${VALUES}`,
  );
  const history = path.join(dir, '.rekey', 'history');
  await fs.mkdir(history, { recursive: true });
  const archived = (id: string, createdAt: string, keys: string[], backup: string, trigger = 'scheduled') =>
    fs.writeFile(
      path.join(history, `${id}.json`),
      JSON.stringify({
        version: 1,
        id,
        kind: 'rotate',
        trigger,
        createdAt,
        outcome: 'rotated',
        backupPath: path.join(dir, backup),
        meta: {},
        steps: [],
        targets: keys.map((key) => ({ key, type: 'generic', state: 'finished', keys: [key] })),
      }),
    );
  await archived(
    '20260301T000000Z-bbbbbb',
    '2026-03-01T00:00:00.000Z',
    ['C_SECRET'],
    '.env.production.backup-20260301T000000Z',
  );
  await archived(
    '20260530T090000Z-aaaaaa',
    '2026-05-30T09:00:00.000Z',
    ['B_SECRET'],
    '.env.production.backup-20260530T090000Z',
    'compromise',
  );
  await fs.writeFile(
    path.join(dir, 'rekey-audit.jsonl'),
    `${[
      {
        seq: 1,
        time: '2026-05-01T00:00:00.000Z',
        kind: 'rotate',
        stack: 'prod',
        rotationId: 'r-audit',
        trigger: 'release',
        operator: 'a',
        host: 'h',
        secrets: [{ key: 'A_SECRET', type: 'generic', fingerprint: 'x' }],
        outcome: 'rotated',
        prev: '0'.repeat(64),
      },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n')}\nnot json\n`,
  );
  // An interrupted rotation of D_SECRET: a pending journal, nobody holds the lock.
  await writePendingJournal(dir, ['D_SECRET'], () => ({ old: 'x', new: 'y' }));
  await fs.writeFile(
    path.join(dir, '.rekey', 'schedule.json'),
    JSON.stringify({ version: 1, secrets: { A_SECRET: { consecutiveFailures: 1 } } }),
  );
  return dir;
}

describe('readStatus from the files on disk', () => {
  it('dates each secret from the first source that knows it', async () => {
    const dir = await stack();
    const report = await readStatus(await loadConfig(path.join(dir, 'rekey.yaml')), NOW);
    const by = Object.fromEntries(report.secrets.map((s) => [s.key, s]));
    expect(by.A_SECRET).toMatchObject({
      source: 'audit',
      lastRotated: '2026-05-01T00:00:00.000Z',
      lastTrigger: 'release',
    });
    expect(by.A_SECRET?.schedule).toEqual({ consecutiveFailures: 1 });
    expect(by.B_SECRET).toMatchObject({
      source: 'annotation',
      lastRotated: '2026-05-30T09:00:00.000Z',
      lastTrigger: 'compromise',
    });
    // The annotation was written by a rotation of B only: C and D are dated by the backups' annotations.
    expect(by.C_SECRET).toMatchObject({
      source: 'annotation',
      lastRotated: '2026-03-01T00:00:00.000Z',
      lastTrigger: 'scheduled',
    });
    expect(by.D_SECRET).toMatchObject({
      source: 'annotation',
      lastRotated: '2026-01-15T00:00:00.000Z',
      state: 'rotation-failing',
    });
    expect(by.D_SECRET?.lastAttempt).toMatchObject({ outcome: 'interrupted', trigger: 'personnel' });
    expect(report.warnings).toEqual([]);
    // No value of the pending journal reaches the events.
    expect(
      JSON.stringify(await readPolicyInputs(await loadConfig(path.join(dir, 'rekey.yaml')))),
    ).not.toMatch(/"(x|y)"/);
  });

  it('without the backups, falls back to the journal history, then never', async () => {
    const dir = await stack();
    for (const f of await fs.readdir(dir)) if (f.includes('.backup-')) await fs.rm(path.join(dir, f));
    const report = await readStatus(await loadConfig(path.join(dir, 'rekey.yaml')), NOW);
    const by = Object.fromEntries(report.secrets.map((s) => [s.key, s]));
    expect(by.C_SECRET).toMatchObject({ source: 'journal', lastRotated: '2026-03-01T00:00:00.000Z' });
    expect(by.D_SECRET).toMatchObject({ source: 'never', overdue: true });
  });

  it('a damaged history or scheduler file is a warning, not a failure', async () => {
    const dir = await stack();
    await fs.writeFile(path.join(dir, '.rekey', 'history', 'zz-torn.json'), '{"id": "torn"');
    await fs.writeFile(path.join(dir, '.rekey', 'schedule.json'), 'garbage');
    const report = await readStatus(await loadConfig(path.join(dir, 'rekey.yaml')), NOW);
    expect(report.warnings).toEqual([
      expect.stringMatching(/^journal history: /),
      expect.stringMatching(/^schedule state: .*schedule\.json is not valid JSON/),
    ]);
    expect(report.secrets.find((s) => s.key === 'A_SECRET')?.source).toBe('audit');
  });
});
