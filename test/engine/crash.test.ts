/**
 * Kill -9 at every step boundary (REKEY_CRASH_AT) and at random moments, then `rekey recover`: every
 * run must converge to a consistent stack (each service accepts exactly what the env file holds, no
 * journal left) and a second recover must be a no-op. Also: rollback and recover after crashes in
 * the rollback itself.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { record, targetOf } from '../helpers/resilience.js';
import { crashPoints, planSteps } from './plan-points.js';
import { CLI, ENV_TEXT, INITIAL, makeStack, type Stack, useStacks } from './stack.js';
import { procState, startUnreaped } from './zombie.js';

const stack = useStacks();

// The step boundaries come from `rekey plan --json` for this very stack: a step added to the protocol
// is crashed at as soon as it exists.
const STEPS = await (async () => {
  const s = await makeStack();
  try {
    return planSteps(await s.run(['plan', '--json']));
  } finally {
    await s.cleanup();
  }
})();
const POINTS = crashPoints(STEPS);
const COMMITTED_FROM = POINTS.indexOf('commit@end');

describe('the crash matrix', () => {
  it('has every step of the plan, committed from commit@end on', () => {
    expect(STEPS.map((s) => s.id)).toEqual(
      expect.arrayContaining([
        'prepare',
        'stage:SINGLE_PASSWORD',
        'commit',
        'deploy',
        'verify',
        'finish:OVERLAP_PASSWORD',
      ]),
    );
    expect(POINTS).toHaveLength(2 * STEPS.length);
    expect(COMMITTED_FROM).toBeGreaterThan(0);
  });
});

async function recoverTwice(
  s: Stack,
  point?: string,
  suite = 'engine (file-held + scriptable services)',
): Promise<string> {
  const r = await s.run(['recover', '--yes', '--json']);
  let outcome = `exit ${r.code}`;
  try {
    outcome = JSON.parse(r.stdout).outcome as string;
  } catch {
    // not JSON: the exit code says it
  }
  const consistent = await s.assertConsistent().then(
    () => true,
    () => false,
  );
  const again = await s.run(['recover', '--yes', '--json']);
  const noop = again.code === 0 && again.stdout.includes('"nothing-to-do"');
  if (point) {
    record({
      kind: 'crash',
      suite,
      point,
      target: targetOf(point),
      outcome,
      converged: r.code === 0 && consistent && noop,
    });
  }
  expect(r.code, r.stderr).toBe(0);
  await s.assertConsistent();
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout).outcome).toBe('nothing-to-do');
  return outcome;
}

describe('kill -9 at every step boundary, then recover', () => {
  it.each(POINTS)('crash at %s converges', async (point) => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: point } });
    expect(r.signal).toBe('SIGKILL');
    // While a rotation is pending, rotate refuses with exit 6.
    const blocked = await s.run(['rotate', '--yes']);
    expect(blocked.code).toBe(6);
    const outcome = await recoverTwice(s, point);
    const text = await fs.readFile(s.envFile, 'utf8');
    if (POINTS.indexOf(point) >= COMMITTED_FROM) {
      expect(outcome).toBe('rotated');
      expect(text).not.toBe(ENV_TEXT);
      expect((await s.env()).get('SINGLE_PASSWORD')).not.toBe(INITIAL.SINGLE_PASSWORD);
    } else {
      expect(['rolled-back', 'nothing-to-do']).toContain(outcome);
      expect(text).toBe(ENV_TEXT);
    }
    // And the stack rotates normally afterwards.
    const next = await s.run(['rotate', '--yes']);
    expect(next.code, next.stderr).toBe(0);
    await s.assertConsistent();
  });
});

describe('kill -9 at every step boundary under a parent that never reaps, then recover', () => {
  // A container without an init (or a CI runner whose pid 1 does not reap): the killed rekey stays a
  // zombie, its pid still answers kill(pid, 0), and recover must still see it dead.
  it.each(POINTS)('crash at %s converges while the killed rekey is a zombie', async (point) => {
    const s = await stack();
    const env = { ...process.env, NO_COLOR: '1', REKEY_CRASH_AT: point };
    const u = await startUnreaped(CLI, ['rotate', '--yes'], s.dir, env);
    try {
      expect(await u.dead()).toBe(9);
      u.killGroupButParent();
      expect(procState(u.pid)).toBe('Z');
      const outcome = await recoverTwice(s, point, 'engine, killed rekey left a zombie (parent never reaps)');
      expect(procState(u.pid)).toBe('Z');
      const text = await fs.readFile(s.envFile, 'utf8');
      if (POINTS.indexOf(point) >= COMMITTED_FROM) expect(outcome).toBe('rotated');
      else expect(text).toBe(ENV_TEXT);
    } finally {
      await u.release();
    }
  });
});

describe('kill -9 during a deploy that outlives rekey, then recover', () => {
  // The deploy runs in its own process group, so killing rekey's group (what a killed machine
  // session or an OOM kill of the group does) leaves it running. Each run of the script records
  // start and end, and notes any earlier run still alive: two deploys at once must never happen.
  const SCRIPT = [
    '#!/bin/sh',
    'echo "start $1 $$" >> runs.log',
    'for p in $(cat pids 2>/dev/null); do',
    '  st=$(sed "s/.*) //" /proc/$p/stat 2>/dev/null | cut -d" " -f1)',
    '  [ -n "$st" ] && [ "$st" != Z ] && echo "overlap $1 $$ with $p" >> runs.log',
    'done',
    'echo $$ >> pids',
    'if [ -e "slow-$1" ]; then t=$(cat "slow-$1"); rm -f "slow-$1"; sleep "$t"; fi',
    'echo "end $1 $$" >> runs.log',
    '',
  ].join('\n');

  const cases = [
    { label: 'deploy', sleep: 4, timeout: '30s', expect: 'waited', fail: undefined, outcome: 'rotated' },
    { label: 'deploy', sleep: 120, timeout: '4s', expect: 'ended', fail: undefined, outcome: 'rotated' },
    { label: 'rollback', sleep: 4, timeout: '30s', expect: 'waited', fail: 'verify', outcome: 'rolled-back' },
  ] as const;

  it.each(cases)(
    'killed during a slow $label (timeout $timeout): recover $expect for it, then converges',
    async (c) => {
      const s = await stack({
        deploy: 'sh slow.sh deploy',
        rollback: 'sh slow.sh rollback',
        deployTimeout: c.timeout,
      });
      await fs.writeFile(path.join(s.dir, 'slow.sh'), SCRIPT);
      await fs.writeFile(path.join(s.dir, `slow-${c.label}`), String(c.sleep));
      const runs = async () =>
        (await fs.readFile(path.join(s.dir, 'runs.log'), 'utf8').catch(() => '')).trim().split('\n');
      // rekey in its own process group, as a shell starts a job.
      const env = { ...process.env, NO_COLOR: '1', ...(c.fail ? { REKEY_FAIL_AT: c.fail } : {}) };
      const rekey = spawn(process.execPath, [CLI, 'rotate', '--yes'], {
        cwd: s.dir,
        env,
        detached: true,
        stdio: 'ignore',
      });
      const closed = once(rekey, 'close');
      const firstPid = async (): Promise<string> => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const line = (await runs()).find((l) => l.startsWith(`start ${c.label} `));
          if (line) return line.split(' ')[2]!;
          if (Date.now() > deadline) throw new Error(`no ${c.label} started: ${(await runs()).join('; ')}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const first = await firstPid();
      process.kill(-rekey.pid!, 'SIGKILL');
      await closed;
      // The first deploy still runs.
      expect(procState(Number(first))).not.toBe(undefined);
      expect(procState(Number(first))).not.toBe('Z');

      const r = await s.run(['recover', '--yes', '--json'], { timeoutMs: 120_000 });
      let doc: { outcome?: string; leftOverCommand?: { outcome: string; label: string } } = {};
      try {
        doc = JSON.parse(r.stdout);
      } catch {
        // not JSON: the assertions below say what went wrong
      }
      const log = await runs();
      const overlaps = log.filter((l) => l.startsWith('overlap'));
      const consistent = await s.assertConsistent().then(
        () => true,
        () => false,
      );
      record({
        kind: 'crash',
        suite: 'engine, deploy in its own process group outlives the killed rekey',
        point: `kill -9 of rekey's process group during a slow ${c.label} (${c.sleep} s, timeout ${c.timeout})`,
        target: `(${c.label})`,
        outcome: `${doc.outcome ?? `exit ${r.code}`}; left-over ${c.label}: ${doc.leftOverCommand?.outcome ?? 'not seen'}; ${overlaps.length} overlapping runs`,
        converged: r.code === 0 && consistent && overlaps.length === 0,
      });
      expect(overlaps, log.join('\n')).toEqual([]);
      expect(r.code, r.stderr).toBe(0);
      expect(doc.outcome).toBe(c.outcome);
      expect(doc.leftOverCommand).toMatchObject({ label: c.label, outcome: c.expect });
      expect(r.stderr).toMatch(
        new RegExp(`the ${c.label} command of the interrupted rotation \\(process group \\d+\\)`),
      );
      // The first run ended (by itself, or ended by recover) before the next one started.
      const firstEnd = log.indexOf(`end ${c.label} ${first}`);
      const nextStart = log.findIndex(
        (l, i) => i > log.indexOf(`start ${c.label} ${first}`) && l.startsWith('start'),
      );
      expect(nextStart, log.join('\n')).toBeGreaterThan(0);
      if (c.expect === 'waited') expect(firstEnd).toBeGreaterThan(-1);
      if (c.expect === 'waited') expect(firstEnd).toBeLessThan(nextStart);
      else expect(firstEnd).toBe(-1);
      expect(procState(Number(first)) ?? 'Z').toBe('Z');
      await s.assertConsistent();
      const again = await s.run(['recover', '--yes', '--json']);
      expect(JSON.parse(again.stdout).outcome).toBe('nothing-to-do');
    },
    180_000,
  );
});

describe('kill -9 during the rollback, then recover', () => {
  it.each([
    'revert:SINGLE_PASSWORD@end',
    'revert:OVERLAP_PASSWORD@begin',
    'restore@end',
    'rollback-deploy@begin',
    'verify-old@begin',
  ])('verify fails, crash at %s during the rollback: recover resumes the rollback', async (point) => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes'], { env: { REKEY_FAIL_AT: 'verify', REKEY_CRASH_AT: point } });
    expect(r.signal).toBe('SIGKILL');
    const outcome = await recoverTwice(s);
    expect(outcome).toBe('rolled-back');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
  });
});

describe('kill -9 at random moments', () => {
  it('30 rotations killed at random times all converge after recover', async () => {
    const s = await stack();
    // Measure a whole rotation, then kill inside that span.
    const t0 = Date.now();
    const first = await s.run(['rotate', '--yes']);
    expect(first.code, first.stderr).toBe(0);
    const span = Date.now() - t0;
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const { child, done } = s.start(['rotate', '--yes']);
      const delay = Math.floor(Math.random() * span);
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const r = await done;
      clearTimeout(timer);
      const key = r.signal === 'SIGKILL' ? 'killed' : `exit ${r.code}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      const rec = await s.run(['recover', '--yes', '--json']);
      const converged =
        rec.code === 0 &&
        (await s.assertConsistent().then(
          () => true,
          () => false,
        ));
      const recovered = /"outcome": "([a-z-]+)"/.exec(rec.stdout)?.[1] ?? `exit ${rec.code}`;
      record({
        kind: 'crash',
        suite: 'engine (file-held + scriptable services)',
        point: `random kill -9 at ${delay} ms of ~${span} ms`,
        target: '(wherever it was)',
        outcome: r.signal === 'SIGKILL' ? `killed; recover: ${recovered}` : `finished first (exit ${r.code})`,
        converged,
      });
      expect(rec.code, rec.stderr).toBe(0);
      await s.assertConsistent();
    }
    expect(outcomes.killed ?? 0).toBeGreaterThan(10);
  }, 300_000);
});

describe('recover', () => {
  it('with nothing pending is a no-op (exit 0)', async () => {
    const s = await stack();
    const r = await s.run(['recover', '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('nothing-to-do');
  });

  it('exits 4 when the env file was edited while a rotation was pending, and works once it is restored', async () => {
    const s = await stack();
    await s.run(['rotate', '--yes'], { env: { REKEY_CRASH_AT: 'stage:SINGLE_PASSWORD@end' } });
    await fs.appendFile(s.envFile, 'EDITED=1\n');
    const r = await s.run(['recover', '--yes']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_ENVFILE_CHANGED/);
    expect(r.stderr).toMatch(/backup/);
    const backup = (await fs.readdir(s.dir)).find((f) => f.includes('.backup-'))!;
    await fs.copyFile(path.join(s.dir, backup), s.envFile);
    expect(await recoverTwice(s)).toBe('rolled-back');
  });

  it('a rollback that cannot reach a service exits 4 naming who holds what, and recover finishes it later', async () => {
    const s = await stack();
    await s.faults({ 'revert:SINGLE_PASSWORD': 'fail' });
    const r = await s.run(['rotate', '--yes', '--json'], { env: { REKEY_FAIL_AT: 'verify' } });
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcome).toBe('needs-attention');
    expect(doc.state.SINGLE_PASSWORD).toMatch(/may hold the new value/);
    expect(doc.state.OVERLAP_PASSWORD).toMatch(/old value/);
    expect(r.stderr).toMatch(/rekey recover/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    // The service comes back: recover completes the rollback.
    await s.faults({});
    expect(await recoverTwice(s)).toBe('rolled-back');
  });
});
