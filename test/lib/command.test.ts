/** The deploy runner's captured output: every known secret masked, however the output is chunked. */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, settleLeftOver } from '../../src/lib/command.js';
import { processStart } from '../../src/lib/process-alive.js';
import { redactor } from '../../src/lib/redact.js';
import { tempDir } from '../helpers/tmp.js';

describe('runCommand output', () => {
  it('masks a non-ASCII secret whose character is split across two output chunks', async () => {
    const secret = 'pässwörd-Ünïcode-7f3a9c2e';
    redactor.add('TEST_UNICODE_SECRET', secret);
    // 'ä' is 0xC3 0xA4: the first byte ends one write, the second starts the next (a pause between
    // them makes two chunks on the pipe).
    const command = `printf 'secret: p\\303'; sleep 0.3; printf '\\244sswörd-Ünïcode-7f3a9c2e done\\n'`;
    const r = await runCommand(command, { cwd: await tempDir(), timeoutMs: 10_000, secretKeys: [] });
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe('secret: [REDACTED:TEST_UNICODE_SECRET] done\n');
  });
});

describe('runCommand started (the journal names the group before the command runs)', () => {
  it('reports the process group before the command starts, and the command runs in it', async () => {
    const dir = await tempDir();
    const seen: number[] = [];
    const r = await runCommand('echo "pgid $(ps -o pgid= -p $$ | tr -d " ")"; [ -e marker ] && echo late', {
      cwd: dir,
      timeoutMs: 10_000,
      secretKeys: [],
      started: async (pgid) => {
        seen.push(pgid);
        // The command has not run yet: it would have printed already.
        await new Promise((res) => setTimeout(res, 200));
        await writeFile(path.join(dir, 'marker'), '');
      },
    });
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe(`pgid ${seen[0]}\nlate\n`);
  });

  it('never runs the command when recording it fails', async () => {
    const dir = await tempDir();
    await expect(
      runCommand('touch ran', {
        cwd: dir,
        timeoutMs: 10_000,
        secretKeys: [],
        started: async () => {
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    await new Promise((res) => setTimeout(res, 300));
    expect(existsSync(path.join(dir, 'ran'))).toBe(false);
  });
});

describe('settleLeftOver (a command a killed rekey left running)', () => {
  const startGroup = async (script: string) => {
    const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    await once(child, 'spawn');
    return { pid: child.pid!, procStart: processStart(child.pid!) };
  };

  it('not running: gone, or the pid now belongs to another process', async () => {
    expect(await settleLeftOver({ pid: spawnSync('true').pid! }, 1000)).toBe('not running');
    const g = await startGroup('sleep 30');
    try {
      expect(await settleLeftOver({ pid: g.pid, procStart: '1' }, 1000)).toBe('not running');
    } finally {
      process.kill(-g.pid, 'SIGKILL');
    }
  });

  it('waits for one that ends in time', async () => {
    const g = await startGroup('sleep 1');
    const t0 = Date.now();
    expect(await settleLeftOver(g, 20_000)).toBe('waited');
    expect(Date.now() - t0).toBeGreaterThan(500);
  });

  it('ends one that outlives the wait with SIGTERM, then SIGKILL if it ignores SIGTERM', async () => {
    const polite = await startGroup('sleep 60');
    expect(await settleLeftOver(polite, 300)).toBe('ended');
    const stubborn = await startGroup('trap "" TERM; sleep 60 & wait; sleep 60');
    expect(await settleLeftOver(stubborn, 300, 500)).toBe('killed');
  });
});
