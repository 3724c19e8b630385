/**
 * A removal killed midway, as a machine crashes: a folder full of files, a process removing it, and
 * SIGKILL to its whole process group the moment a chosen file is gone — a different file, so a
 * different moment, each time. For the tests that an owned folder keeps its marker until the end
 * (src/lib/owned-dir.ts, the demo's stop-demo.sh).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { OWNED_MARKER } from '../../src/lib/owned-dir.js';

/**
 * Fills an owned folder with `dirs` folders of `files` files each, plus a file per folder, under
 * random names; the marker is written again halfway, so it sits amid them in whatever order the
 * file system lists a folder (creation order, its reverse, or a hash of the names). Returns the
 * files, the ones to wait for.
 */
export async function fillOwnedDir(dir: string, dirs = 40, files = 50): Promise<string[]> {
  const made: string[] = [];
  const tag = randomBytes(4).toString('hex');
  for (let d = 0; d < dirs; d++) {
    if (d === Math.floor(dirs / 2)) {
      const marker = path.join(dir, OWNED_MARKER);
      const text = await fs.readFile(marker, 'utf8');
      await fs.rm(marker);
      await fs.writeFile(marker, text, { mode: 0o600, flag: 'wx' });
    }
    const sub = path.join(dir, `${tag}-d${d}`);
    await fs.mkdir(sub);
    const names = Array.from({ length: files }, (_, f) => path.join(sub, `${tag}-f${f}`));
    await Promise.all(names.map((n) => fs.writeFile(n, 'x')));
    const top = path.join(dir, `${tag}-t${d}`);
    await fs.writeFile(top, 'x');
    made.push(...names, top);
  }
  return made;
}

/** Picks one of `files` at random. */
export const anyOf = (files: readonly string[]): string => files[randomInt(files.length)] as string;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Starts `command` in its own process group and SIGKILLs the whole group as soon as `watched` is gone
 * (polled every 0.2 ms, the event loop held meanwhile: no timer delays the kill), then waits until
 * every process of the group has ended. Gives up polling after `limitMs`.
 *
 * @example
 * await killWhenGone(process.execPath, ['-e', script], anyOf(files));
 */
export async function killWhenGone(
  command: string,
  args: readonly string[],
  watched: string,
  limitMs = 30_000,
): Promise<void> {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  const exited = once(child, 'exit');
  const pid = child.pid as number;
  const until = Date.now() + limitMs;
  while (existsSync(watched) && Date.now() < until) Atomics.wait(pause, 0, 0, 0.2);
  const group = (signal: NodeJS.Signals | 0) => {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  group('SIGKILL');
  await exited;
  // the leader is dead; a child of it (rm, find) may still be finishing its last system call
  for (let i = 0; i < 200 && group(0); i++) await new Promise((r) => setTimeout(r, 10));
}
