/**
 * One source of truth for "request used": the audit log. The `.used` marker is only the claim of a
 * rotation in flight; deleting it does not make a used request usable again, on any path (rotate,
 * approve, requests), and a copy of a used request under another name is refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { approved, expectUnchanged, snapshot, useGovStacks } from './helpers.js';

const { stack } = useGovStacks();

describe('request used', () => {
  it('deleting the .used marker, or copying the request under another name, does not make it usable again', async () => {
    const s = await stack();
    const r = await approved(s);
    const first = await s.run(['rotate', '--yes', '--json', '--request', r.id]);
    expect(first.code, first.stderr).toBe(0);
    const rotationId = JSON.parse(first.stdout).id as string;
    await fs.rm(path.join(s.stateDir, 'requests', `${r.id}.used`));

    const listed = JSON.parse((await s.run(['requests', '--json'])).stdout).requests[0];
    expect(listed).toMatchObject({ id: r.id, status: 'used', rotationId });

    const approve = await s.run(['approve', r.id, '--role', 'security-lead', '--key', s.key('alice')]);
    expect(approve.code, approve.stderr).toBe(5);
    expect(approve.stderr).toContain('already used');

    const copy = path.join(s.dir, 'renamed-request.json');
    await fs.copyFile(s.requestFile(r.id), copy);
    for (const ref of [r.id, copy]) {
      const before = await snapshot(s);
      const again = await s.run(['rotate', '--yes', '--request', ref]);
      expect(again.code, again.stderr).toBe(5);
      expect(again.stderr).toMatch(new RegExp(`already used by rotation ${rotationId}`));
      await expectUnchanged(s, before);
    }
  }, 90_000);
});
