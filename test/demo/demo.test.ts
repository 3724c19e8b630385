/**
 * `rekey demo` end to end, non-interactively: every claim it prints is asserted on the outcome of
 * the real request behind it (status and error codes), every command it ran exited 0, and the
 * stack is torn down (folder removed).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI } from '../engine/stack.js';

interface Claim {
  step: string;
  claim: string;
  expected: string | number;
  actual: string | number;
  ok: boolean;
}

describe('rekey demo', () => {
  it('runs to the end, every claim holds, and tears down', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as {
      ok: boolean;
      dir: string;
      kept: boolean;
      claims: Claim[];
      commands: Array<{ args: string[]; exitCode: number }>;
    };
    expect(doc.ok).toBe(true);
    const actual = (text: RegExp) => doc.claims.find((c) => text.test(c.claim))?.actual;
    expect(actual(/PostgreSQL rejects the old password/)).toBe('28P01');
    expect(actual(/PostgreSQL accepts the new password/)).toBe('accepted');
    expect(actual(/Redis rejects the old password/)).toBe('WRONGPASS');
    expect(actual(/Redis accepts the new password/)).toBe('PONG');
    expect(actual(/Grafana rejects the old admin password/)).toBe(401);
    expect(actual(/Grafana accepts the new admin password/)).toBe(200);
    expect(actual(/token issued before the rotation still works/)).toBe(200);
    expect(actual(/old API key still works/)).toBe(200);
    expect(actual(/token from before both rotations is rejected/)).toBe(401);
    expect(actual(/previous API key is rejected/)).toBe(401);
    expect(actual(/sessions from before were purged/)).toBe(0);
    expect(doc.claims.every((c) => c.ok)).toBe(true);
    expect(doc.claims.length).toBeGreaterThanOrEqual(15);
    expect(doc.commands.map((c) => c.args[0])).toEqual(['rotate', 'verify', 'rotate', 'status']);
    expect(doc.commands.every((c) => c.exitCode === 0)).toBe(true);
    expect(doc.kept).toBe(false);
    expect(existsSync(doc.dir)).toBe(false);
  }, 240_000);
});
