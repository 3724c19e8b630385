/**
 * The audit log against an attacker who can write the log and the state directory but does not hold
 * the audit key and cannot reach the anchor: every record is MACed, its head is MACed and also written
 * to `audit.anchor`, and `rekey audit verify` exits 1 on truncation (even with the state-dir head
 * rewritten to match), forged tails, reordering and edits. A reader without the key still checks the
 * chain and the anchor and says the MACs were not checked. Logs of the previous version still verify.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type AuditPaths, appendAudit } from '../../src/governance/audit/append.js';
import { auditPaths } from '../../src/governance/audit/read.js';
import { type Stack, useStacks } from '../engine/stack.js';

const stack = useStacks();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Fixture {
  s: Stack;
  paths: AuditPaths;
  anchor: string;
  head: string;
  lines(): Promise<string[]>;
  write(lines: string[]): Promise<void>;
  /** What an attacker with write access to the state directory does: a plain head matching the log. */
  rewriteHead(lines: string[]): Promise<void>;
  verify(): Promise<{ code: number | null; stderr: string; stdout: string }>;
}

async function fixture(anchorSetting = '{ file: anchor.jsonl }', records = 5): Promise<Fixture> {
  const s = await stack({ extraConfig: `audit:\n  anchor: ${anchorSetting}\n` });
  const paths = auditPaths(await loadConfig(path.join(s.dir, 'rekey.yaml')));
  for (let i = 1; i <= records; i++) {
    await appendAudit(paths, { kind: 'approval', operator: `op${i}@example.com`, outcome: 'recorded' });
  }
  const head = path.join(s.stateDir, 'audit-head');
  const f: Fixture = {
    s,
    paths,
    anchor: path.join(s.dir, 'anchor.jsonl'),
    head,
    lines: async () => (await fs.readFile(paths.file, 'utf8')).trimEnd().split('\n'),
    write: (lines) => fs.writeFile(paths.file, `${lines.join('\n')}\n`),
    rewriteHead: (lines) =>
      fs.writeFile(head, `${JSON.stringify({ seq: lines.length, hash: sha(lines.at(-1)!) })}\n`),
    verify: () => s.run(['audit', 'verify']),
  };
  return f;
}

/** Rechains lines from index `from` on (each prev = sha256 of the line before), as a forger would. */
function rechain(lines: string[], from: number): string[] {
  const out = [...lines];
  for (let i = Math.max(from, 1); i < out.length; i++) {
    const r = JSON.parse(out[i]!);
    r.prev = sha(out[i - 1]!);
    out[i] = JSON.stringify(r);
  }
  return out;
}

describe('audit log: MACed records, MACed head, anchor', () => {
  it('cut the tail and rewrite the state-dir head: verify exits 1 naming the truncation (anchor)', async () => {
    const f = await fixture();
    expect((await f.verify()).code).toBe(0);
    const cut = (await f.lines()).slice(0, 3);
    await f.write(cut);
    await f.rewriteHead(cut);
    const r = await f.verify();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('ERR_AUDIT_BROKEN');
    expect(r.stderr).toMatch(/anchor says 5: records 4\.\.5 were removed \(the log was truncated\)/);

    // Without an anchor, the key still catches the rewritten head (no MAC of it).
    await fs.rm(f.anchor);
    const keyOnly = await f.verify();
    expect(keyOnly.code).toBe(1);
    expect(keyOnly.stderr).toMatch(/chain head .* rewritten by someone without the audit key/);
  });

  it('append a forged record with a recomputed plain hash (and head): exit 1', async () => {
    const f = await fixture();
    const lines = await f.lines();
    const last = JSON.parse(lines.at(-1)!);
    // Without a MAC, and with a made-up MAC: both refused.
    const { mac: _mac, ...plain } = last;
    for (const forged of [
      { ...plain, seq: 6, prev: sha(lines.at(-1)!), operator: 'mallory@example.com' },
      { ...plain, seq: 6, prev: sha(lines.at(-1)!), operator: 'mallory@example.com', mac: 'ab'.repeat(32) },
    ]) {
      const next = [...lines, JSON.stringify(forged)];
      await f.write(next);
      await f.rewriteHead(next);
      const r = await f.verify();
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(
        /record 6: record 6 (carries no MAC|was altered or forged: its MAC does not verify)/,
      );
    }
  });

  it('the anchor file deleted: exit 1; re-created on purpose (empty): a warning', async () => {
    const f = await fixture();
    await fs.rm(f.anchor);
    const r = await f.verify();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/record 5: the anchor file .*anchor\.jsonl is gone, but the log holds 5 record/);
    expect(r.stderr).toContain('touch ');
    // Re-created on purpose (after checking the log against a trusted head): verify warns, the next
    // append writes a head into it.
    await fs.writeFile(f.anchor, '');
    const fresh = await f.s.run(['audit', 'verify']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toContain('holds no head yet');
  });

  it('swap two records: exit 1', async () => {
    const f = await fixture();
    const l = await f.lines();
    const swapped = [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!];
    await f.write(swapped);
    const r = await f.verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_AUDIT_BROKEN');
  });

  it('edit a field and rechain the rest (plain hashes, head rewritten): exit 1 naming the record', async () => {
    const f = await fixture();
    await fs.rm(f.anchor); // only the MACs stand in the way
    const l = await f.lines();
    const edited = rechain(
      l.map((x, i) => (i === 2 ? x.replace('op3@example.com', 'mallory@example.com') : x)),
      3,
    );
    await f.write(edited);
    await f.rewriteHead(edited);
    const r = await f.verify();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/record 3: record 3 was altered or forged: its MAC does not verify/);
  });

  it('a reader without the key checks the chain and the anchor, and says the MACs were not checked', async () => {
    // The key outside the state directory, in a folder of its own (relative to rekey.yaml).
    const s = await stack({
      extraConfig: 'audit:\n  keyFile: private/audit.key\n  anchor: { file: anchor.jsonl }\n',
    });
    await fs.mkdir(path.join(s.dir, 'private'), { mode: 0o700 });
    const keyFile = path.join(s.dir, 'private', 'audit.key');
    const paths = auditPaths(await loadConfig(path.join(s.dir, 'rekey.yaml')));
    for (let i = 1; i <= 4; i++) {
      await appendAudit(paths, { kind: 'approval', operator: `op${i}@example.com`, outcome: 'recorded' });
    }
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    await expect(fs.stat(path.join(s.stateDir, 'audit.key'))).rejects.toThrow(); // kept outside
    const withKey = await s.run(['audit', 'verify']);
    expect(withKey.stderr).toContain(`record MACs checked (audit key ${keyFile})`);
    // The reader: the key is not there for them.
    await fs.rename(keyFile, `${keyFile}.away`);
    const ok = await s.run(['audit', 'verify', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, macsChecked: false, anchor: { seq: 4 } });
    expect((await s.run(['audit', 'verify'])).stderr).toContain('record MACs NOT checked');
    const lines = (await fs.readFile(paths.file, 'utf8')).trimEnd().split('\n').slice(0, 2);
    await fs.writeFile(paths.file, `${lines.join('\n')}\n`);
    await fs.writeFile(
      path.join(s.stateDir, 'audit-head'),
      `${JSON.stringify({ seq: 2, hash: sha(lines[1]!) })}\n`,
    );
    const cut = await s.run(['audit', 'verify']);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/anchor says 4/);
  });

  it('a command anchor receives each head on stdin; a failing one is a warning, the record is written', async () => {
    const f = await fixture('{ command: "cat >> heads.jsonl" }', 3);
    const heads = (await fs.readFile(path.join(f.s.dir, 'heads.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(heads.map((h) => JSON.parse(h).seq)).toEqual([1, 2, 3]);
    const lines = await f.lines();
    expect(JSON.parse(heads[2]!).hash).toBe(sha(lines[2]!));
    const cut = lines.slice(0, 2);
    await f.write(cut);
    await f.rewriteHead(cut);
    const r = await f.s.run(['audit', 'verify', '--anchor', path.join(f.s.dir, 'heads.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/anchor says 3/);

    const g = await fixture('{ command: "exit 7" }', 0);
    const res = await appendAudit(g.paths, { kind: 'approval', operator: 'x', outcome: 'recorded' });
    expect(res.anchorError).toMatch(/audit anchor command failed \(exit 7\)/);
    expect(await g.lines()).toHaveLength(1);
  });

  it('a log of the previous version (no MACs) still verifies, as legacy; an unMACed record after a MACed one does not', async () => {
    const f = await fixture('{ file: anchor.jsonl }', 0);
    // Three records as the previous version wrote them: chained, no MAC, a plain head.
    const legacy: string[] = [];
    for (let i = 1; i <= 3; i++) {
      legacy.push(
        JSON.stringify({
          seq: i,
          time: '2026-11-01T00:00:00.000Z',
          stack: 'app',
          host: 'h',
          kind: 'approval',
          operator: `old${i}@example.com`,
          outcome: 'recorded',
          prev: i === 1 ? '0'.repeat(64) : sha(legacy[i - 2]!),
        }),
      );
    }
    await fs.mkdir(f.s.stateDir, { recursive: true });
    await f.write(legacy);
    await f.rewriteHead(legacy);
    const old = await f.verify();
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toContain('records 1..3 were written before records were MACed');
    await appendAudit(f.paths, { kind: 'approval', operator: 'new@example.com', outcome: 'recorded' });
    const mixed = await f.s.run(['audit', 'verify', '--json']);
    expect(JSON.parse(mixed.stdout)).toMatchObject({ ok: true, records: 4, legacy: 3, macsChecked: true });
    const l = await f.lines();
    const forged = rechain(
      [...l, JSON.stringify({ ...JSON.parse(legacy[0]!), seq: 5, operator: 'mallory@example.com' })],
      4,
    );
    await f.write(forged);
    await f.rewriteHead(forged);
    const r = await f.verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/record 5 carries no MAC/);
  });
});
