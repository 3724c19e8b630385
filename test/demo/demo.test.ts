/**
 * `rekey demo` end to end, non-interactively: every claim it prints is asserted on the outcome of
 * the real request behind it (status and error codes), every command it ran exited 0, and the
 * stack is torn down (folder removed). With `--keep`, the stack runs on and `bash stop-demo.sh`
 * stops it. Both run with TMPDIR and REKEY_STACK_TMPDIR pointing at private folders holding a canary
 * file beside the stack's folders: the teardown removes the stack's folders and nothing else.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { processAlive as alive } from '../../src/lib/process-alive.js';
import { CLI } from '../engine/stack.js';
import { canaryTmp } from '../helpers/canary-tmp.js';
import { record } from '../helpers/resilience.js';
import { runToEnd } from '../helpers/run.js';

interface Claim {
  step: string;
  claim: string;
  expected: string | number;
  actual: string | number;
  ok: boolean;
}

describe('rekey demo', () => {
  it('runs to the end, every claim holds, and tears down', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const { code, stdout, stderr } = await runToEnd(process.execPath, [CLI, 'demo', '--json'], {
      env: { ...process.env, ...canary.env, NO_COLOR: '1' },
    });
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: '`rekey demo` tears down',
      removedOwn: code === 0 && (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
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
    // The compromise rotation's transcript carries the eviction report (read back by the runner).
    expect(actual(/printed the eviction report/)).toBe('shown');
    expect(actual(/eviction report: Redis keeps only the new password/)).toBe('removed, removed');
    expect(doc.claims.every((c) => c.ok)).toBe(true);
    expect(doc.claims.length).toBeGreaterThanOrEqual(15);
    expect(doc.commands.map((c) => c.args[0])).toEqual(['rotate', 'verify', 'rotate', 'status']);
    expect(doc.commands.every((c) => c.exitCode === 0)).toBe(true);
    expect(doc.kept).toBe(false);
    expect(existsSync(doc.dir)).toBe(false);
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
  }, 240_000);

  it('--keep leaves the stack running; stop-demo.sh stops it and removes its folders, nothing else', async () => {
    const canary = await canaryTmp();
    const env = { ...process.env, ...canary.env, NO_COLOR: '1' };
    const kept = await runToEnd(process.execPath, [CLI, 'demo', '--keep', '--json'], { env });
    const doc = JSON.parse(kept.stdout || '{}') as {
      ok?: boolean;
      dir?: string;
      kept?: boolean;
      dashboard?: string;
    };
    const servers = doc.dir
      ? (await fs.readFile(path.join(doc.dir, '.run', 'pids'), 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [name, pid, , dir] = line.split(' ');
            return { name, pid: Number(pid), dir: dir === '-' ? undefined : dir };
          })
      : [];
    const appPidFile = doc.dir ? path.join(doc.dir, '.run', 'app.pid') : '';
    const appPid = Number(await fs.readFile(appPidFile, 'utf8').catch(() => '0'));
    onTestFinished(async () => {
      // whatever happened, nothing of this test keeps running
      for (const p of [...servers.map((s) => s.pid), appPid]) {
        try {
          if (p > 0) process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await canary.remove();
    });
    expect(kept.code, kept.stderr).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.kept).toBe(true);
    const dir = doc.dir ?? '';
    expect(servers.map((s) => s.name).sort()).toEqual(['grafana', 'postgres', 'redis', 'rekey-serve']);
    for (const s of servers) expect(alive(s.pid), `${s.name} runs`).toBe(true);
    // The dashboard of the kept stack answers (rekey serve on a loopback port, stopped below).
    expect(doc.dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await fetch(new URL('metrics', doc.dashboard))).status).toBe(200);
    expect(alive(appPid), 'the app runs').toBe(true);
    const serverDirs = servers.flatMap((s) => (s.dir ? [s.dir] : []));
    for (const d of serverDirs) expect(existsSync(d)).toBe(true);

    const stop = await runToEnd('bash', [path.join(dir, 'stop-demo.sh')], { env, cwd: canary.tmp });
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: '`rekey demo --keep`, then `bash stop-demo.sh`',
      removedOwn:
        stop.code === 0 &&
        servers.length === 4 &&
        [...servers.map((s) => s.pid), appPid].every((p) => !alive(p)) &&
        (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
    await canary.assertCanaries(); // before: it removed the temp folder itself (dirname of Redis's)
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/demo stack stopped and removed/);
    expect(serverDirs).toHaveLength(2);
    for (const s of servers) expect(alive(s.pid), `${s.name} stopped`).toBe(false);
    expect(alive(appPid), 'the app stopped').toBe(false);
    for (const d of [dir, ...serverDirs]) expect(existsSync(d), d).toBe(false);
    expect(await canary.leftovers()).toEqual([]);
  }, 240_000);
});
