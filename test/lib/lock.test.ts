import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import { acquireLock, acquireOrTakeOver, inspectLock, lockPath } from '../../src/lib/lock.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { groupAlive, parseProcStat, processAlive, processStart } from '../../src/lib/process-alive.js';
import { makeZombie } from '../engine/zombie.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
  dirs = [];
});
async function stateDir(): Promise<string> {
  const d = await makeOwnedDir('rekey-lock-');
  dirs.push(d);
  return path.join(d, '.rekey');
}
async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    return isRekeyError(e) ? e.code : String(e);
  }
}

/** A lock file in `dir` left by a `rotate` that has ended (its pid is dead); resolves with that pid. */
async function deadHolder(dir: string): Promise<number> {
  const dead = spawnSync('true').pid!;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.writeFile(
    lockPath(dir),
    JSON.stringify({ pid: dead, host: os.hostname(), startedAt: 'x', command: 'rotate' }),
  );
  return dead;
}

describe('lock', () => {
  it('one holder at a time; the second is told who holds it', async () => {
    const dir = await stateDir();
    const lock = await acquireLock(dir, 'rotate');
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(lockPath(dir))).mode & 0o777).toBe(0o600);
    expect(await code(acquireLock(dir, 'rotate'))).toBe('ERR_LOCKED');
    await lock.release();
    await (await acquireLock(dir, 'rotate')).release();
  });

  it('a dead holder is reported stale, never broken silently; recover takes it over', async () => {
    const dir = await stateDir();
    const dead = await deadHolder(dir);
    expect((await inspectLock(dir)).state).toBe('stale');
    expect(await code(acquireLock(dir, 'rotate'))).toBe('ERR_LOCK_STALE');
    const { lock, tookOver } = await acquireOrTakeOver(dir, 'recover');
    expect(tookOver?.pid).toBe(dead);
    expect(lock.holder.pid).toBe(process.pid);
    await lock.release();
  });

  it('a lock taken over by another recover while we looked is live: never taken over in turn', async () => {
    const dir = await stateDir();
    await deadHolder(dir);
    // Right after our first look found it stale, another (live) recover takes the lock over.
    const live = JSON.stringify({
      pid: process.pid,
      host: os.hostname(),
      startedAt: 'y',
      command: 'recover',
    });
    const readFile = fs.readFile.bind(fs);
    let reads = 0;
    const spy = vi.spyOn(fs, 'readFile').mockImplementation((async (file: string, enc: BufferEncoding) => {
      if (file === lockPath(dir) && ++reads === 2) await fs.writeFile(lockPath(dir), live);
      return readFile(file, enc);
    }) as typeof fs.readFile);
    try {
      expect(await code(acquireOrTakeOver(dir, 'recover'))).toBe('ERR_LOCKED');
    } finally {
      spy.mockRestore();
    }
    expect(await fs.readFile(lockPath(dir), 'utf8')).toBe(live);
  });

  it('a live pid that is not the holder (reused pid) counts as dead', async () => {
    const dir = await stateDir();
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.writeFile(
      lockPath(dir),
      JSON.stringify({
        pid: process.pid,
        host: os.hostname(),
        startedAt: 'x',
        command: 'rotate',
        procStart: '1',
      }),
    );
    expect((await inspectLock(dir)).state).toBe('stale');
  });

  it('a live holder is never taken over, even by recover', async () => {
    const dir = await stateDir();
    const lock = await acquireLock(dir, 'rotate');
    expect(await code(acquireOrTakeOver(dir, 'recover'))).toBe('ERR_LOCKED');
    await lock.release();
  });

  it('a killed holder nobody reaps (a zombie) is dead: the lock is stale and recover takes it over', async () => {
    const zombie = await makeZombie();
    try {
      const dir = await stateDir();
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(
        lockPath(dir),
        JSON.stringify({
          pid: zombie.pid,
          host: os.hostname(),
          startedAt: 'x',
          command: 'rotate',
          procStart: processStart(zombie.pid),
        }),
      );
      expect((await inspectLock(dir)).state).toBe('stale');
      expect(await code(acquireLock(dir, 'rotate'))).toBe('ERR_LOCK_STALE');
      const { lock, tookOver } = await acquireOrTakeOver(dir, 'recover');
      expect(tookOver?.pid).toBe(zombie.pid);
      await lock.release();
    } finally {
      await zombie.release();
    }
  });
});

describe('process liveness', () => {
  it('reads /proc/<pid>/stat after the last ")": a name may hold spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'Z'; // state
    fields[2] = '4242'; // process group
    fields[19] = '987654'; // start time
    const stat = `77 (a) S 1 (b c)) ${fields.join(' ')}`;
    expect(parseProcStat(stat)).toEqual({ state: 'Z', pgrp: 4242, start: '987654' });
  });

  it('a zombie, a reused pid and a missing pid are dead; we are alive', async () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(process.pid, processStart(process.pid))).toBe(true);
    expect(processAlive(process.pid, '1')).toBe(false);
    expect(processAlive(spawnSync('true').pid!)).toBe(false);
    const zombie = await makeZombie();
    try {
      expect(processAlive(zombie.pid)).toBe(false);
      expect(processAlive(zombie.parent)).toBe(true);
    } finally {
      await zombie.release();
    }
  });

  it('a process group is alive while any member runs, even after its leader ended', async () => {
    // The leader (sh, its own group) starts a member and exits at once; we reap the leader.
    const leader = spawn('/bin/sh', ['-c', 'sleep 60 & echo $!'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const start = processStart(leader.pid!);
    const [line] = (await once(leader.stdout!, 'data')) as [Buffer];
    const member = Number(line.toString().trim());
    await once(leader, 'exit');
    try {
      expect(processAlive(leader.pid!)).toBe(false);
      expect(groupAlive(leader.pid!, start)).toBe(true);
    } finally {
      process.kill(member, 'SIGKILL');
    }
    await expect.poll(() => groupAlive(leader.pid!, start)).toBe(false);
  });
});
