/**
 * Bounded concurrency in the engine (issue 17), in-process against slow fakes: consecutive steps of
 * one phase on different targets run together, never more than `concurrency` at once; the plan's
 * order constraints hold (single-password targets staged after every overlap target, each tested
 * right after its own stage, all before the commit); a failure in one of several concurrent stages
 * rolls back every target that was staged, the ones still in flight included; the journal's writes
 * never overlap and a save resolves only once a write including its change is durable.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { rotate } from '../../../src/engine/engine.js';
import type { Journal, JournalStore } from '../../../src/engine/journal.js';
import type { Target, TargetContext, Values } from '../../../src/engine/ports.js';
import { silentProgress } from '../../../src/engine/progress.js';
import { type EngineDeps, Run } from '../../../src/engine/run.js';
import { envValues, parseEnv } from '../../../src/envfile/index.js';
import { RekeyError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { createVerifier } from '../../../src/verify/index.js';
import { record } from '../../helpers/resilience.js';
import { stackDeps } from '../../helpers/stack-deps.js';
import { FakeService, FakeTarget } from '../fake/fakes.js';

vi.mock('../../../src/envfile/git.js', () => ({ checkGit: async () => {} }));

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What happened, in order: `stage+ KEY` (begins), `stage- KEY` (ends), `test+ KEY`, ..., `commit`. */
type Timeline = string[];

/** A fake target whose operations take a while, recorded on a shared timeline with the in-flight count. */
class SlowTarget extends FakeTarget {
  constructor(
    service: FakeService,
    private readonly timeline: Timeline,
    private readonly flight: { now: number; max: number },
    private readonly ms: number,
  ) {
    super(service);
  }
  private async timed(op: string, work: () => Promise<void>): Promise<void> {
    this.timeline.push(`${op}+ ${this.key}`);
    this.flight.now++;
    this.flight.max = Math.max(this.flight.max, this.flight.now);
    try {
      await sleep(this.ms);
      await work();
    } finally {
      this.flight.now--;
      this.timeline.push(`${op}- ${this.key}`);
    }
  }
  override stage(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
    return this.timed('stage', () => super.stage(ctx, cur, next));
  }
  override test(ctx: TargetContext, next: Values): Promise<void> {
    return this.timed('test', () => super.test(ctx, next));
  }
  override revert(ctx: TargetContext, cur: Values): Promise<void> {
    return this.timed('revert', () => super.revert(ctx, cur));
  }
}

const OVERLAP = ['OV_A', 'OV_B', 'OV_C', 'OV_D', 'OV_E', 'OV_F'];
const SINGLE = ['SG_A', 'SG_B', 'SG_C'];

async function slowStack(options: { concurrency?: number; ms?: number } = {}) {
  const dir = await makeOwnedDir('rekey-engine-conc-', { base: process.env.REKEY_STACK_TMPDIR || undefined });
  dirs.push(dir);
  const keys = [...OVERLAP, ...SINGLE];
  const old = Object.fromEntries(keys.map((k) => [k, `${k.toLowerCase()}-old-value-1234567890`]));
  const envFile = path.join(dir, '.env.production');
  const envText = `${keys.map((k) => `${k}=${old[k]}`).join('\n')}\n`;
  await fs.writeFile(envFile, envText, { mode: 0o600 });
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production\nsecrets:\n${keys.map((k) => `  - { key: ${k}, type: generic }`).join('\n')}\nverifyPolicy: { deadline: 1s, attemptTimeout: 1s, successes: 1 }\n`,
  );
  const services = new Map(keys.map((k) => [k, new FakeService(k, old[k]!, OVERLAP.includes(k))]));
  const timeline: Timeline = [];
  const flight = { now: 0, max: 0 };
  const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
  const base = stackDeps(loaded);
  const deps: EngineDeps = {
    ...base,
    // The env file's commit, on the timeline.
    store: {
      ...base.store,
      commit: async (...args: Parameters<typeof base.store.commit>) => {
        timeline.push('commit');
        return base.store.commit(...args);
      },
    },
    makeTargets: (): Target[] =>
      keys.map((k) => new SlowTarget(services.get(k)!, timeline, flight, options.ms ?? 30)),
    verifier: createVerifier(loaded.config),
    progress: silentProgress,
    log: silentLogger,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  };
  const env = async () => new Map(envValues(parseEnv(await fs.readFile(envFile, 'utf8'))));
  const assertConsistent = async () => {
    const values = await env();
    for (const [k, s] of services)
      expect([...s.accepted], `${k} accepts exactly the env file's value`).toEqual([values.get(k)]);
  };
  return { dir, envFile, envText, old, services, timeline, flight, deps, env, assertConsistent };
}

const first = (t: Timeline, e: string) => t.indexOf(e);
const last = (t: Timeline, e: string) => t.lastIndexOf(e);

describe('engine concurrency: order kept, limit kept', () => {
  it('stages and tests several targets at once, never more than `concurrency`; single-password targets after every overlap target, each tested right after its stage, before the commit', async () => {
    const s = await slowStack({ concurrency: 4 });
    const r = await rotate(s.deps, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rotated');
    await s.assertConsistent();
    expect(s.flight.max, 'several operations in flight at once').toBeGreaterThan(1);
    expect(s.flight.max, 'never more than the limit').toBeLessThanOrEqual(4);
    const t = s.timeline;
    const overlapDone = Math.max(...OVERLAP.map((k) => last(t, `test- ${k}`)));
    for (const k of SINGLE) {
      expect(first(t, `stage+ ${k}`), `${k} staged after every overlap target was tested`).toBeGreaterThan(
        overlapDone,
      );
      expect(first(t, `test+ ${k}`), `${k} tested after its own stage`).toBeGreaterThan(
        first(t, `stage- ${k}`),
      );
      expect(first(t, 'commit'), `${k} tested before the commit`).toBeGreaterThan(first(t, `test- ${k}`));
    }
    // Overlap targets: every stage ends before any test begins (a phase at a time).
    const stagesDone = Math.max(...OVERLAP.map((k) => last(t, `stage- ${k}`)));
    for (const k of OVERLAP) expect(first(t, `test+ ${k}`)).toBeGreaterThan(stagesDone);
    record({
      kind: 'concurrency',
      suite: 'engine concurrency',
      case: 'concurrency 4: 6 overlap + 3 single-password targets, order constraints',
      ok: s.flight.max > 1 && s.flight.max <= 4,
      detail: `max ${s.flight.max} in flight; single-password targets staged last, each tested right after`,
    });
  });

  it('concurrency 1: one step at a time, in the plan order', async () => {
    const s = await slowStack({ concurrency: 1, ms: 5 });
    const r = await rotate(s.deps, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rotated');
    expect(s.flight.max).toBe(1);
    const stages = s.timeline.filter((e) => e.startsWith('stage+')).map((e) => e.slice(7));
    expect(stages).toEqual([...OVERLAP, ...SINGLE]);
  });

  it('a target reading a key another writes (a rotated admin password): its stage first, never beside the other', async () => {
    const s = await slowStack({ concurrency: 8 });
    // OV_A reads OV_C's value (as a secret whose admin password OV_C rotates); OV_C comes first in rekey.yaml.
    const deps = {
      ...s.deps,
      makeTargets: async (env: ReadonlyMap<string, string>) => {
        const targets = await s.deps.makeTargets(env);
        const reader = targets.find((t) => t.key === 'OV_A') as { secretKeys: readonly string[] } | undefined;
        if (reader) reader.secretKeys = ['OV_A', 'OV_C'];
        return targets;
      },
    };
    const r = await rotate(deps, { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    const t = s.timeline;
    // The other overlap targets still stage together with one of the two.
    expect(first(t, 'stage+ OV_B')).toBeLessThan(last(t, 'stage- OV_A'));
    // OV_C's stage begins after OV_A's ended, and no other OV_C step runs beside an OV_A step.
    expect(first(t, 'stage+ OV_C')).toBeGreaterThan(last(t, 'stage- OV_A'));
    expect(first(t, 'test+ OV_C')).toBeGreaterThan(last(t, 'test- OV_A'));
    await s.assertConsistent();
  });

  it('a failure in one of several concurrent stages rolls back every target staged, those in flight too', async () => {
    const s = await slowStack({ concurrency: 4 });
    // OV_A fails at once; OV_B..OV_D are mid-stage then and finish it.
    const failing = s.services.get('OV_A')!;
    failing.faults.set('stage', 'before');
    const r = await rotate(s.deps, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rolled-back');
    expect(r.error?.message).toContain('OV_A');
    const staged = OVERLAP.filter((k) => s.services.get(k)!.calls.includes('stage'));
    expect(staged.length, 'stages were in flight beside the failing one').toBeGreaterThanOrEqual(4);
    for (const k of staged.filter((x) => x !== 'OV_A'))
      expect(s.services.get(k)!.calls, `${k} staged, then reverted`).toContain('revert');
    // Nothing started after the failure: the later targets were never touched.
    for (const k of SINGLE) expect(s.services.get(k)!.calls).not.toContain('stage');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(s.envText);
    for (const [k, svc] of s.services) expect([...svc.accepted], k).toEqual([s.old[k]]);
    record({
      kind: 'concurrency',
      suite: 'engine concurrency',
      case: 'one of 4 concurrent stages fails: every staged target reverted',
      ok: r.outcome === 'rolled-back',
      detail: `${staged.length} targets staged, all reverted; env file unchanged`,
    });
  });

  it('interrupted (Ctrl-C) while several stages run: those finish, no new step starts, the rotation rolls back', async () => {
    const s = await slowStack({ concurrency: 3 });
    const control = new (await import('../../../src/engine/run.js')).RotationControl();
    const svc = s.services.get('OV_B')!;
    const op = svc.op.bind(svc);
    svc.op = async (name, work) => {
      if (name === 'stage') control.interrupt();
      return op(name, work);
    };
    const r = await rotate({ ...s.deps, control }, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rolled-back');
    expect(r.error?.code).toBe('ERR_INTERRUPTED');
    const staged = [...s.services].filter(([, x]) => x.calls.includes('stage')).map(([k]) => k);
    expect(staged).toEqual(['OV_A', 'OV_B', 'OV_C']);
    for (const [k, x] of s.services) expect([...x.accepted], k).toEqual([s.old[k]]);
  });
});

describe('Run.save: concurrent saves', () => {
  it('never overlaps two writes; folds saves asked for during a write into the next; each resolves after a write that began after it', async () => {
    let inFlight = 0;
    let overlapped = false;
    const writes: Array<{ began: number; ended: number; marks: number }> = [];
    let clock = 0;
    const journal = { steps: [], targets: [], marks: 0 } as unknown as Journal & { marks: number };
    const store = {
      async write(j: Journal & { marks: number }) {
        if (inFlight > 0) overlapped = true;
        inFlight++;
        const began = ++clock;
        await sleep(10);
        const marks = j.marks;
        inFlight--;
        writes.push({ began, ended: ++clock, marks });
      },
    } as unknown as JournalStore;
    const run = new Run(
      { progress: silentProgress, log: silentLogger } as unknown as EngineDeps,
      store,
      journal,
      new Map(),
    );
    const asked: Array<Promise<number>> = [];
    for (let i = 0; i < 20; i++) {
      journal.marks++;
      const mine = journal.marks;
      asked.push(
        run.save().then(() => {
          // A write that includes this change has ended.
          expect(writes.some((w) => w.marks >= mine)).toBe(true);
          return writes.length;
        }),
      );
      if (i % 5 === 4) await sleep(3);
    }
    await Promise.all(asked);
    expect(overlapped, 'two writes at once').toBe(false);
    expect(writes.length, 'saves coalesced').toBeLessThan(20);
    expect(writes.at(-1)?.marks).toBe(20);
  });

  it('a failed write rejects the saves it carried; the next save writes again', async () => {
    let fail = true;
    let n = 0;
    const store = {
      async write() {
        n++;
        await sleep(5);
        if (fail) throw new RekeyError('ERR_IO', 'disk full');
      },
    } as unknown as JournalStore;
    const run = new Run(
      { progress: silentProgress, log: silentLogger } as unknown as EngineDeps,
      store,
      { steps: [], targets: [] } as unknown as Journal,
      new Map(),
    );
    await expect(run.save()).rejects.toThrow('disk full');
    fail = false;
    await expect(run.save()).resolves.toBeUndefined();
    expect(n).toBe(2);
  });
});
