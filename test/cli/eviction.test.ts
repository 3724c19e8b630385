/**
 * Issue 12, the eviction report: a compromise rotation says, per service, what an attacker could
 * still use (removed / found / clean / NOT CHECKED with the reason), in the human output, in --json
 * and in the audit record; other triggers have no such section. File-held stack (built CLI): the
 * command targets have no eviction checks, which must be said, not left out.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();

async function lastAudit(dir: string): Promise<Record<string, unknown>> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('audit.jsonl')) found.push(p);
    }
  };
  await walk(dir);
  expect(found).toHaveLength(1);
  const lines = (await fs.readFile(found[0] ?? '', 'utf8')).trim().split('\n');
  return JSON.parse(lines.at(-1) ?? '{}');
}

describe('eviction report', { timeout: 180_000 }, () => {
  it('a compromise rotation reports per service, in --json, the human output and the audit record', async () => {
    const s = await stack();
    const r = await s.run(['rotate', '--trigger', 'compromise', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const by = (service: string) =>
      (doc.eviction as Array<{ service: string; status: string; text: string }>).filter(
        (f) => f.service === service,
      );
    expect(by('JWT_SECRET (jwt)').map((f) => f.status)).toEqual(['removed']);
    expect(by('API_SECRET_KEY (api-key)').map((f) => f.status)).toEqual(['removed']);
    const single = by('SINGLE_PASSWORD (command)');
    record({
      kind: 'eviction',
      suite: 'file-held stack (built CLI)',
      service: 'command secret',
      foothold: 'anything the attacker left in the service',
      result: 'not checkable',
      ok:
        single.length === 1 &&
        single[0]?.status === 'unchecked' &&
        /^could not check: /.test(single[0]?.text ?? ''),
    });
    expect(single.map((f) => f.status)).toEqual(['unchecked']);
    expect(single[0]?.text).toMatch(/^could not check: /);
    expect(by('app sessions').map((f) => f.status)).toEqual(['unchecked']);
    expect((await lastAudit(s.dir)).eviction).toEqual(doc.eviction);

    const human = await s.run(['rotate', '--trigger', 'compromise', '--yes']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain('What an attacker could still use (compromise eviction):');
    expect(human.stderr).toMatch(/SINGLE_PASSWORD \(command\)\n\s+passwords\s+NOT CHECKED: could not check/);
  });

  it('other triggers have no eviction section', async () => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).eviction).toBeUndefined();
    expect((await lastAudit(s.dir)).eviction).toBeUndefined();
  });
});
