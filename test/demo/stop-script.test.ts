/**
 * The script `rekey demo --keep` leaves (demo/stack-setup.ts `stopScript`), played against what
 * could have changed since it was written: a listed folder without the marker, with a marker naming
 * another folder, replaced by a symbolic link to a marked folder; a pid now used by another process.
 * It removes only what still holds its marker, kills only the process it started, and says so; killed
 * midway through a removal, it leaves the folder with its marker, and run again it finishes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { processStarted, stopScript } from '../../demo/stack-setup.js';
import { makeOwnedDir, OWNED_MARKER, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { CLI } from '../engine/stack.js';
import { canaryTmp } from '../helpers/canary-tmp.js';
import { anyOf, fillOwnedDir, killWhenGone } from '../helpers/kill-mid-removal.js';
import { record } from '../helpers/resilience.js';

const REPO = path.resolve(path.dirname(CLI), '../../..');

function sleeper(): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

describe('stop-demo.sh', () => {
  it('removes only the listed folders that still hold their marker, and kills only its own processes', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const base = canary.tmp;
    const stackDir = await makeOwnedDir('rekey-demo-', { base });
    const serverDir = await makeOwnedDir('rekey-redis-', { base });
    await fs.writeFile(path.join(serverDir, 'dump'), 'x');
    // listed, but no marker (someone else's folder now at that path)
    const plain = await fs.mkdtemp(path.join(base, 'rekey-pg-'));
    // listed, a marker copied from another folder
    const copied = path.join(base, 'rekey-copy');
    await fs.cp(serverDir, copied, { recursive: true });
    // listed, replaced by a symbolic link to a marked folder
    const target = await makeOwnedDir('rekey-target-', { base });
    const link = path.join(base, 'rekey-link');
    await fs.symlink(target, link);

    const ours = sleeper();
    const reused = sleeper(); // stands for a process that got the pid of a server that died
    await new Promise((r) => setTimeout(r, 50));
    const script = stopScript({
      repo: REPO,
      dir: stackDir,
      servers: [
        {
          name: 'redis',
          pid: ours.pid ?? -1,
          started: processStarted(ours.pid ?? -1),
          signal: 'TERM',
          dir: serverDir,
        },
        { name: 'postgres', pid: reused.pid ?? -1, started: '1', signal: 'INT', dir: plain },
        { name: 'grafana', pid: 2 ** 22 + 1, started: '1', signal: 'TERM', dir: copied },
        { name: 'other', pid: 2 ** 22 + 2, started: '', signal: 'TERM', dir: link },
      ],
    });
    const file = path.join(stackDir, 'stop-demo.sh');
    await fs.writeFile(file, script, { mode: 0o755 });

    const run = spawn('bash', [file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...canary.env },
    });
    let stderr = '';
    run.stderr.on('data', (b) => {
      stderr += b;
    });
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));

    await Promise.race([exited(ours), new Promise((r) => setTimeout(r, 2000))]);
    const reusedAlive = reused.exitCode === null && reused.signalCode === null;
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: 'stop-demo.sh after the world changed: unmarked, copied-marker and symlinked folders, a reused pid',
      removedOwn: !existsSync(stackDir) && !existsSync(serverDir) && ours.signalCode === 'SIGTERM',
      keptOthers:
        code === 1 &&
        (await canary.intact()) &&
        reusedAlive &&
        existsSync(plain) &&
        existsSync(path.join(copied, 'dump')) &&
        existsSync(link) &&
        existsSync(target),
    });
    expect(code, stderr).toBe(1);
    await canary.assertCanaries();
    await exited(ours);
    expect(ours.signalCode).toBe('SIGTERM');
    expect(reused.exitCode === null && reused.signalCode === null, 'the reused pid was not killed').toBe(
      true,
    );
    expect(stderr).toMatch(/is no longer the demo's postgres.*not killed/);
    expect(existsSync(stackDir)).toBe(false);
    expect(existsSync(serverDir)).toBe(false);
    expect(existsSync(path.join(plain))).toBe(true);
    expect(existsSync(path.join(copied, 'dump'))).toBe(true);
    expect((await fs.lstat(link)).isSymbolicLink()).toBe(true);
    expect(existsSync(target)).toBe(true);
    expect(stderr).toContain(`refusing to remove ${plain}: no .rekey-owned marker`);
    expect(stderr).toContain(`refusing to remove ${copied}: its marker names another folder`);
    expect(stderr).toContain(`refusing to remove ${link}: not a folder`);
  });

  it('quotes every path it names: a folder name with $, quotes and spaces is removed, nothing else', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const parent = await makeOwnedDir('odd $(touch PWNED) \'q\' "d" `x` ', { base: canary.tmp });
    const stackDir = await makeOwnedDir('rekey-demo-', { base: parent });
    const file = path.join(stackDir, 'stop-demo.sh');
    await fs.writeFile(file, stopScript({ repo: REPO, dir: stackDir, servers: [] }), { mode: 0o755 });
    const run = spawn('bash', [file], { stdio: ['ignore', 'pipe', 'pipe'], cwd: canary.tmp });
    let stderr = '';
    run.stderr.on('data', (b) => {
      stderr += b;
    });
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));
    expect(code, stderr).toBe(0);
    expect(existsSync(stackDir)).toBe(false);
    expect(existsSync(parent)).toBe(true);
    expect(existsSync(path.join(canary.tmp, 'PWNED'))).toBe(false);
    expect(existsSync(path.join(stackDir, '..', 'PWNED'))).toBe(false);
  });

  it('keeps the marker until everything else is gone: killed (SIGKILL) midway, run again, it finishes', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const attempts = 6;
    let midway = 0;
    const markerLost: string[] = [];
    const rerunFailed: string[] = [];
    for (let i = 0; i < attempts; i++) {
      const stackDir = await makeOwnedDir('rekey-demo-', { base: canary.tmp });
      const files = await fillOwnedDir(stackDir);
      const file = path.join(stackDir, 'stop-demo.sh'); // where --keep writes it: it must stay to run again
      await fs.writeFile(file, stopScript({ repo: REPO, dir: stackDir, servers: [] }), { mode: 0o755 });
      await killWhenGone('bash', [file], anyOf(files));
      if (!existsSync(stackDir)) continue;
      midway++;
      const left = await fs.readdir(stackDir);
      if (left.length === 0) {
        await fs.rmdir(stackDir); // one system call wide: after the marker, before the folder
      } else if (left.length === 1 && left[0] === OWNED_MARKER) {
        await removeOwnedDir(stackDir); // one system call wide: after the script, before the marker
      } else if (!left.includes(OWNED_MARKER) || !left.includes('stop-demo.sh')) {
        markerLost.push(
          `${left.length} entries left, without ${left.includes(OWNED_MARKER) ? 'stop-demo.sh' : 'the marker'}`,
        );
      } else {
        const again = spawn('bash', [file], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        again.stderr.on('data', (b) => {
          stderr += b;
        });
        const code = await new Promise<number | null>((resolve) => again.on('close', resolve));
        if (code !== 0 || existsSync(stackDir)) rerunFailed.push(`exit ${code}: ${stderr.trim()}`);
      }
    }
    const intact = await canary.intact();
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: `stop-demo.sh SIGKILLed (whole group) midway (${midway} of ${attempts} kills): the marker and the script stay, run again it finishes`,
      removedOwn: markerLost.length === 0 && rerunFailed.length === 0,
      keptOthers: intact,
    });
    expect(markerLost, 'half-removed folders left without their marker or script').toEqual([]);
    expect(rerunFailed, 'stop-demo.sh run again').toEqual([]);
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
    // the kills must land midway for the test to mean anything (each waits for a random file's removal)
    expect(midway, 'kills that landed mid-removal').toBeGreaterThanOrEqual(2);
  }, 300_000);
});
