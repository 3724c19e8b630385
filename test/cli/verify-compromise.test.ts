/**
 * Issue 12, `rekey verify --trigger compromise`: the eviction checks on their own, read-only, with
 * what the env file holds (built CLI, file-held stack). A file-held secret whose previous slot still
 * holds a value is a foothold (FOUND: exit 1, ERR_FOOTHOLD_FOUND); a target without read-only checks
 * is said to be NOT CHECKED (no failure); nothing changes anywhere. Fails on the code before: verify
 * had no --trigger (exit 2).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStacks, writtenFiles } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();

type Finding = { service: string; foothold: string; status: string; text: string };

/**
 * Every file under the stack's folder with its mtime and a hash of its bytes (the env file included;
 * not the fake services' call log, which records the read-only checks too).
 */
async function snapshot(dir: string, envFile: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of [...(await writtenFiles(dir)), envFile]) {
    if (path.basename(f) === 'calls.log') continue;
    const st = await fs.stat(f);
    const hash = createHash('sha256')
      .update(await fs.readFile(f))
      .digest('hex');
    out.set(path.relative(dir, f), `${st.mtimeMs} ${hash}`);
  }
  return out;
}

describe('rekey verify --trigger compromise', { timeout: 180_000 }, () => {
  it('reports a previous slot still holding the old value (exit 1), says what it cannot check, changes nothing', async () => {
    const s = await stack();
    const rotated = await s.run(['rotate', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await s.env()).get('JWT_SECRET_PREVIOUS')).not.toBe('');
    const before = await snapshot(s.dir, s.envFile);
    const accepted = [await s.accepted('SINGLE_PASSWORD'), await s.accepted('OVERLAP_PASSWORD')];

    const r = await s.run(['verify', '--trigger', 'compromise', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(doc.checks.length).toBeGreaterThan(0);
    const by = (service: string) =>
      (doc.eviction as Finding[]).filter((f) => f.service === service).map((f) => f.status);
    expect(by('JWT_SECRET (jwt)')).toEqual(['reported']);
    expect(by('API_SECRET_KEY (api-key)')).toEqual(['clean']);
    expect(by('SINGLE_PASSWORD (command)')).toEqual(['unchecked']);
    expect(by('app sessions')).toEqual(['unchecked']);
    const jwt = (doc.eviction as Finding[]).find((f) => f.service === 'JWT_SECRET (jwt)');
    record({
      kind: 'eviction',
      suite: 'file-held stack, rekey verify --trigger compromise (built CLI)',
      service: 'JWT',
      foothold: 'previous slot still holding the old secret (after a scheduled rotation)',
      result: 'reported',
      ok: r.code === 1 && jwt?.status === 'reported' && (jwt?.text.includes('JWT_SECRET_PREVIOUS') ?? false),
    });
    expect(jwt?.text).toContain('JWT_SECRET_PREVIOUS');
    for (const f of doc.eviction as Finding[]) {
      if (f.status === 'unchecked') expect(f.text).toMatch(/^could not check: /);
    }
    expect(r.stderr).toContain('ERR_FOOTHOLD_FOUND');
    // No secret in the output: the old JWT secret is what the previous slot holds.
    const old = (await s.env()).get('JWT_SECRET_PREVIOUS') ?? '';
    expect(old.length).toBeGreaterThan(10);
    expect(r.stdout + r.stderr).not.toContain(old);

    const human = await s.run(['verify', '--trigger', 'compromise']);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('What an attacker could still use (compromise eviction):');
    expect(human.stderr).toMatch(
      /JWT_SECRET \(jwt\)\n\s+passwords\s+FOUND, left in place: JWT_SECRET_PREVIOUS/,
    );
    expect(human.stderr).toMatch(/SINGLE_PASSWORD \(command\)\n\s+passwords\s+NOT CHECKED: could not check/);

    expect(await snapshot(s.dir, s.envFile)).toEqual(before);
    expect([await s.accepted('SINGLE_PASSWORD'), await s.accepted('OVERLAP_PASSWORD')]).toEqual(accepted);
  });

  it('after a compromise rotation: clean where it can tell, NOT CHECKED elsewhere, exit 0', async () => {
    const s = await stack();
    const rotated = await s.run(['rotate', '--trigger', 'compromise', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const r = await s.run(['verify', '--trigger', 'compromise', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(true);
    const statuses = Object.fromEntries((doc.eviction as Finding[]).map((f) => [f.service, f.status]));
    expect(statuses).toEqual({
      'JWT_SECRET (jwt)': 'clean',
      'API_SECRET_KEY (api-key)': 'clean',
      'SINGLE_PASSWORD (command)': 'unchecked',
      'OVERLAP_PASSWORD (command)': 'unchecked',
      'app sessions': 'unchecked',
    });
  });

  it('without --trigger compromise, verify has no eviction section (as before)', async () => {
    const s = await stack();
    const r = await s.run(['verify', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).eviction).toBeUndefined();
    const bad = await s.run(['verify', '--trigger', 'nonsense']);
    expect(bad.code).toBe(2);
  });
});
