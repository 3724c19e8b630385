/** Ctrl-C during a rotation: the first stops at the next safe point and rolls back; the second exits. */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { installInterruptHandler } from '../../src/cli/signals.js';
import { RotationControl } from '../../src/engine/run.js';
import { ENV_TEXT, useStacks } from './stack.js';

const stack = useStacks();

async function waitFor(file: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('interrupting a rotation', () => {
  it('SIGINT during the deploy rolls back at the next safe point (exit 1, old values)', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'slow-deploy');
    const { child, done } = s.start(['rotate', '--yes']);
    await waitFor(path.join(s.dir, 'deploys.log'));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/stopping at the next safe point/);
    expect(r.stderr).toMatch(/ERR_INTERRUPTED/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('a second SIGINT exits at once and leaves the journal for recover', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'deploy-fault'), 'slow-deploy');
    const { child, done } = s.start(['rotate', '--yes']);
    await waitFor(path.join(s.dir, 'deploys.log'));
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const r = await done;
    expect(r.signal).toBe('SIGINT');
    expect(r.stderr).toMatch(/rekey recover/);
    expect(existsSync(path.join(s.stateDir, 'journal.json'))).toBe(true);
    const rec = await s.run(['recover', '--yes']);
    expect(rec.code, rec.stderr).toBe(0);
    await s.assertConsistent();
  });

  it('a second SIGINT is refused while the env file is being written', async () => {
    const control = new RotationControl();
    const writes: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const uninstall = installInterruptHandler(control);
    try {
      await control.criticalSection('writing the env file', async () => {
        process.emit('SIGINT', 'SIGINT');
        process.emit('SIGINT', 'SIGINT');
      });
    } finally {
      uninstall();
      spy.mockRestore();
      kill.mockRestore();
    }
    expect(control.interrupted).toBe(true);
    expect(writes.join('')).toMatch(/SIGINT refused: writing the env file/);
    expect(kill).not.toHaveBeenCalled();
  });
});
