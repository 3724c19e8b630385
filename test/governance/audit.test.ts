/**
 * The audit log: a hash chain pinned by a head in the state directory, so that every kind of
 * tampering (edited, deleted, reordered, inserted, truncated, removed) is caught by
 * `rekey audit verify`; records per rotation with HMAC fingerprints, operator and attachments; and
 * `rekey audit check-value` catching out-of-band edits of the env file.
 */

import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AuditPaths, appendAudit } from '../../src/governance/audit/append.js';
import { verifyChain } from '../../src/governance/audit/chain.js';
import { readAuditLog } from '../../src/governance/audit/index.js';
import { operatorIdentity } from '../../src/governance/identity.js';
import { INITIAL, useStacks } from '../engine/stack.js';
import { tempDir } from '../helpers/tmp.js';
import { readJsonl } from './helpers.js';

const SCANS = path.resolve(import.meta.dirname, '../fixtures/scans');

const stack = useStacks();

/** Five records appended the way rekey appends them. */
async function fiveRecords(paths: AuditPaths): Promise<void> {
  for (let i = 1; i <= 5; i++) {
    await appendAudit(paths, {
      kind: 'approval',
      operator: `op${i}@example.com`,
      requestId: `req-${i}`,
      outcome: 'recorded',
    });
  }
}

type Tamper = (lines: string[]) => string[];

/** Each way of altering a log, and the record `audit verify` must name. */
const TAMPERING: Array<{ name: string; tamper: Tamper; seq: number; reason: RegExp }> = [
  {
    name: 'a middle record edited',
    tamper: (l) => l.map((x, i) => (i === 2 ? x.replace('op3@', 'mallory@') : x)),
    seq: 3,
    reason: /record 3 was altered/,
  },
  {
    name: 'the first record edited',
    tamper: (l) => l.map((x, i) => (i === 0 ? x.replace('req-1', 'req-9') : x)),
    seq: 1,
    reason: /record 1 was altered/,
  },
  {
    name: 'the last record edited',
    tamper: (l) => l.map((x, i) => (i === 4 ? x.replace('recorded', 'refused') : x)),
    seq: 5,
    reason: /record 5 was altered .*chain head/,
  },
  {
    name: 'a record deleted',
    tamper: (l) => l.filter((_, i) => i !== 2),
    seq: 3,
    reason: /record 3 was deleted/,
  },
  {
    name: 'two records swapped',
    tamper: (l) => [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!],
    seq: 2,
    reason: /line 2 holds record 3/,
  },
  {
    name: 'a record inserted (a replayed copy of record 3)',
    tamper: (l) => [...l.slice(0, 3), l[2]!, ...l.slice(3)],
    seq: 4,
    reason: /line 4 holds record 3/,
  },
  { name: 'the tail truncated', tamper: (l) => l.slice(0, 3), seq: 4, reason: /records 4\.\.5 were removed/ },
  {
    name: 'a torn last line',
    tamper: (l) => [...l.slice(0, 4), l[4]!.slice(0, 40)],
    seq: 5,
    reason: /not a JSON record/,
  },
];

describe('hash chain', () => {
  it('verifies an intact log, and names the first broken record for every kind of tampering', async () => {
    const dir = await tempDir();
    const paths = { file: path.join(dir, 'audit.jsonl'), stateDir: path.join(dir, '.rekey'), stack: 'app' };
    await fiveRecords(paths);
    const text = await fs.readFile(paths.file, 'utf8');
    const head = JSON.parse(await fs.readFile(path.join(paths.stateDir, 'audit-head'), 'utf8'));
    expect(verifyChain(text, head)).toMatchObject({
      ok: true,
      records: 5,
      last: { seq: head.seq, hash: head.hash },
    });
    const lines = text.trimEnd().split('\n');
    for (const t of TAMPERING) {
      const v = verifyChain(`${t.tamper(lines).join('\n')}\n`, head);
      expect(v.ok, t.name).toBe(false);
      expect(v.broken?.seq, t.name).toBe(t.seq);
      expect(v.broken?.reason, t.name).toMatch(t.reason);
    }
    expect(verifyChain(text, undefined)).toMatchObject({
      ok: false,
      broken: { reason: /chain head .* is missing/ },
    });
    expect(verifyChain(undefined, head)).toMatchObject({
      ok: false,
      broken: { reason: /audit log is missing/ },
    });
  });

  it('does not move the head over a truncated log, so appending cannot hide the truncation', async () => {
    const dir = await tempDir();
    const paths = { file: path.join(dir, 'audit.jsonl'), stateDir: path.join(dir, '.rekey'), stack: 'app' };
    await fiveRecords(paths);
    const lines = (await fs.readFile(paths.file, 'utf8')).trimEnd().split('\n');
    await fs.writeFile(paths.file, `${lines.slice(0, 4).join('\n')}\n`);
    const { chained } = await appendAudit(paths, { kind: 'approval', operator: 'x', outcome: 'recorded' });
    expect(chained).toBe(false);
    const head = JSON.parse(await fs.readFile(path.join(paths.stateDir, 'audit-head'), 'utf8'));
    const v = verifyChain(await fs.readFile(paths.file, 'utf8'), head);
    expect(v).toMatchObject({ ok: false, broken: { seq: 5 } });
  });

  it('rekey audit verify: exit 0 when intact, exit 1 naming the record for each tampering', async () => {
    const s = await stack();
    const paths = { file: path.join(s.dir, 'rekey-audit.jsonl'), stateDir: s.stateDir, stack: 'app' };
    await fiveRecords(paths);
    const pristine = await fs.readFile(paths.file, 'utf8');
    const ok = await s.run(['audit', 'verify']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('audit log intact: 5 record(s)');
    const json = await s.run(['audit', 'verify', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, records: 5 });

    const lines = pristine.trimEnd().split('\n');
    for (const t of TAMPERING) {
      await fs.writeFile(paths.file, `${t.tamper(lines).join('\n')}\n`);
      const r = await s.run(['audit', 'verify']);
      expect(r.code, t.name).toBe(1);
      expect(r.stderr, t.name).toContain(`ERR_AUDIT_BROKEN: ${paths.file}: record ${t.seq}: `);
    }
    await fs.writeFile(paths.file, pristine);
    await fs.rm(path.join(s.stateDir, 'audit-head'));
    const headless = await s.run(['audit', 'verify', '--json']);
    expect(headless.code).toBe(1);
    expect(JSON.parse(headless.stdout)).toMatchObject({ ok: false, broken: { seq: 5 } });
  });
});

describe('audit records', () => {
  it('records a rotation with operator, phases, HMAC fingerprints and attachments, never a value', async () => {
    const s = await stack();
    const attach = ['bandit.json', 'safety.json', 'npm-audit.json', 'trivy.json', 'review-notes.txt'];
    const r = await s.run([
      'rotate',
      '--yes',
      '--ticket',
      'CHG-1042',
      '--operator',
      'dana@example.com',
      ...attach.flatMap((a) => ['--attach', path.join(SCANS, a)]),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [record] = await readAuditLog(path.join(s.dir, 'rekey-audit.jsonl'));
    expect(record).toMatchObject({
      seq: 1,
      kind: 'rotate',
      outcome: 'rotated',
      ticket: 'CHG-1042',
      operator: 'dana@example.com',
      trigger: 'manual', // a hand rotation without --trigger
      prev: '0'.repeat(64),
    });
    expect(record!.phases!.map((p) => p.id)).toContain('commit');
    expect(record!.backup?.file).toMatch(/^\.env\.production\.backup-/);

    // Fingerprints: HMAC-SHA256 under the 0600 per-install key, of the values now in the env file.
    const keyFile = path.join(s.stateDir, 'audit.key');
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = await fs.readFile(keyFile);
    expect(key).toHaveLength(32);
    const env = await s.env();
    for (const secret of record!.secrets!) {
      const value = env.get(secret.key)!;
      expect(secret.fingerprint).toBe(createHmac('sha256', key).update(value).digest('hex'));
      expect(secret.fingerprint).not.toBe(createHash('sha256').update(value).digest('hex'));
    }
    const text = await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8');
    for (const v of [...Object.values(INITIAL), ...env.values()].filter((v) => v.length >= 8)) {
      expect(text).not.toContain(v);
    }

    const byName = Object.fromEntries(record!.attachments!.map((a) => [a.name, a]));
    expect(byName['bandit.json']).toMatchObject({
      format: 'bandit',
      findings: { high: 1, medium: 1, low: 1 },
      total: 3,
    });
    expect(byName['safety.json']).toMatchObject({
      format: 'safety',
      findings: { medium: 1, critical: 1, unknown: 1 },
    });
    expect(byName['npm-audit.json']).toMatchObject({
      format: 'npm-audit',
      findings: { high: 1, moderate: 1 },
    });
    expect(byName['trivy.json']).toMatchObject({
      format: 'trivy',
      findings: { critical: 2, high: 1, medium: 1, low: 1 },
    });
    const notes = await fs.readFile(path.join(SCANS, 'review-notes.txt'));
    expect(byName['review-notes.txt']).toMatchObject({
      size: notes.length,
      sha256: createHash('sha256').update(notes).digest('hex'),
    });
    expect(byName['review-notes.txt']!.format).toBeUndefined();

    const show = await s.run(['audit', 'show']);
    expect(show.stderr).toMatch(
      /#1 .* rotate rotated JWT_SECRET, API_SECRET_KEY, SINGLE_PASSWORD, OVERLAP_PASSWORD by dana@example.com/,
    );
    const shown = JSON.parse((await s.run(['audit', 'show', '--json'])).stdout);
    expect(shown.records).toHaveLength(1);
  });

  it('records a rolled-back rotation with its error, fingerprinting the restored values', async () => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes'], { env: { REKEY_FAIL_AT: 'verify' } });
    expect(r.code).toBe(1);
    const [record] = await readJsonl(path.join(s.dir, 'rekey-audit.jsonl'));
    expect(record).toMatchObject({
      kind: 'rotate',
      outcome: 'rolled-back',
      error: { code: 'ERR_INJECTED_FAULT' },
    });
    const key = await fs.readFile(path.join(s.stateDir, 'audit.key'));
    const secrets = record!.secrets as Array<{ key: keyof typeof INITIAL; fingerprint: string }>;
    for (const x of secrets) {
      expect(x.fingerprint).toBe(createHmac('sha256', key).update(INITIAL[x.key]).digest('hex'));
    }
    expect((await s.run(['audit', 'check-value', 'SINGLE_PASSWORD'])).code).toBe(0);
  });

  it('refuses a missing attachment before anything changes', async () => {
    const s = await stack();
    const before = await fs.readFile(s.envFile);
    const r = await s.run(['rotate', '--yes', '--attach', path.join(s.dir, 'no-such-report.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_ATTACHMENT');
    expect((await fs.readFile(s.envFile)).equals(before)).toBe(true);
    expect((await fs.readdir(s.dir)).some((f) => f.includes('.backup-'))).toBe(false);
  });

  it('check-value tells whether the env file still holds the audited value', async () => {
    const s = await stack();
    const none = await s.run(['audit', 'check-value', 'JWT_SECRET']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ERR_AUDIT_NO_RECORD');
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    const ok = await s.run(['audit', 'check-value', 'JWT_SECRET', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, key: 'JWT_SECRET', matches: true, seq: 1 });

    // Someone edits the env file by hand.
    const text = await fs.readFile(s.envFile, 'utf8');
    const jwt = (await s.env()).get('JWT_SECRET')!;
    await fs.writeFile(s.envFile, text.replace(jwt, `${jwt.slice(0, -4)}abcd`));
    const changed = await s.run(['audit', 'check-value', 'JWT_SECRET']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('ERR_AUDIT_VALUE_CHANGED');
    expect(changed.stderr).not.toContain(jwt.slice(0, -4));
    expect((await s.run(['audit', 'check-value', 'API_SECRET_KEY'])).code).toBe(0);
    expect((await s.run(['audit', 'check-value', 'NOPE'])).code).toBe(2);
  });
});

describe('operator identity', () => {
  it('is --operator, else git user.email of the config folder, else the OS user', async () => {
    const dir = await tempDir();
    expect(await operatorIdentity(dir, ' lead@example.com ')).toBe('lead@example.com');
    execFileSync('git', ['init', '-q', dir]);
    execFileSync('git', ['-C', dir, 'config', 'user.email', 'repo-user@example.com']);
    expect(await operatorIdentity(dir)).toBe('repo-user@example.com');

    const bare = await tempDir();
    const saved = { g: process.env.GIT_CONFIG_GLOBAL, s: process.env.GIT_CONFIG_NOSYSTEM };
    process.env.GIT_CONFIG_GLOBAL = path.join(bare, 'no-gitconfig');
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    try {
      const { userInfo } = await import('node:os');
      expect(await operatorIdentity(bare)).toBe(userInfo().username);
    } finally {
      for (const [k, v] of [
        ['GIT_CONFIG_GLOBAL', saved.g],
        ['GIT_CONFIG_NOSYSTEM', saved.s],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
