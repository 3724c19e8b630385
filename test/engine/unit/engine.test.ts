/**
 * The rotation engine in-process, against fakes (test/engine/fake/fakes.ts): every step of the
 * protocol made to fail × the rollback's outcome (clean, or failing at each of its parts and then
 * finished by `recover`). Invariant after every case: each fake service accepts exactly what the env
 * file holds, the old values after a rollback; the "app" (the fake deployer) runs with them too.
 *
 * The steps come from the engine's own plan for this stack: a step added to the protocol joins the
 * matrix by itself, and fails it until FAIL below says how to make that step fail.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { report } from '../../../src/cli/report.js';
import { loadConfig } from '../../../src/config/load.js';
import { preflight, rotate } from '../../../src/engine/engine.js';
import { JOURNAL_VERSION, JournalStore } from '../../../src/engine/journal.js';
import { PHASES } from '../../../src/engine/plan.js';
import { silentProgress } from '../../../src/engine/progress.js';
import { recover } from '../../../src/engine/recover.js';
import type { EngineDeps, RotationHooks, RotationResult } from '../../../src/engine/run.js';
import { envValues, parseEnv } from '../../../src/envfile/index.js';
import { exitCodeOf, isRekeyError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { createEnvFileStore } from '../../../src/stores/env-file/index.js';
import { createVerifier } from '../../../src/verify/index.js';
import { record } from '../../helpers/resilience.js';
import { stackDeps } from '../../helpers/stack-deps.js';
import {
  FakeDeployer,
  FakeService,
  FakeSessions,
  FakeStore,
  FakeTarget,
  FaultyControl,
} from '../fake/fakes.js';

// No process may start: the deploy and rollback commands are the fake deployer injected through the
// `Deployer` port, and the env file's git check (preflight runs `git`) is replaced by a no-op
// (test/envfile/git.test.ts covers it); anything spawning a process fails the test.
const current = vi.hoisted(() => ({ gitChecks: 0 }));
vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  const refuse = (name: string) => () => {
    throw new Error(`engine unit tests start no process (${name} called)`);
  };
  return {
    ...real,
    spawn: refuse('spawn'),
    spawnSync: refuse('spawnSync'),
    execFile: refuse('execFile'),
    execFileSync: refuse('execFileSync'),
    exec: refuse('exec'),
    execSync: refuse('execSync'),
    fork: refuse('fork'),
  };
});
vi.mock('../../../src/envfile/git.js', () => ({
  checkGit: async () => {
    current.gitChecks++;
  },
}));

const OLD = { OVERLAP_TOKEN: 'overlap-old-Qm9vYmFyYmF6cXV4', SINGLE_TOKEN: 'single-old-ZGVhZGJlZWZkZWFk' };
const ENV_TEXT = `# fake stack
APP_NAME=demo
OVERLAP_TOKEN=${OLD.OVERLAP_TOKEN}
SINGLE_TOKEN=${OLD.SINGLE_TOKEN}
`;
const CONFIG = `envFile: .env.production
secrets:
  - { key: OVERLAP_TOKEN, type: generic }
  - { key: SINGLE_TOKEN, type: generic }
verifyPolicy: { deadline: 1s, attemptTimeout: 1s, successes: 1 }
`;

interface FakeStack {
  dir: string;
  envFile: string;
  overlap: FakeService;
  single: FakeService;
  deployer: FakeDeployer;
  sessions: FakeSessions;
  control: FaultyControl;
  /** Fresh dependencies, as a new rekey process builds them (config loaded again, same services). */
  deps(hooks?: RotationHooks): Promise<EngineDeps>;
  env(): Promise<Map<string, string>>;
  journal(): ReturnType<JournalStore['read']>;
  clearFaults(): void;
  /** Throws unless every service accepts exactly the env file's value, the app runs with the env file, no journal. */
  assertConsistent(): Promise<void>;
}

// On tmpfs when the tests have one (REKEY_STACK_TMPDIR): the journal and env file writes fsync.
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
});

async function fakeStack(): Promise<FakeStack> {
  const dir = await makeOwnedDir('rekey-engine-unit-', { base: process.env.REKEY_STACK_TMPDIR || undefined });
  dirs.push(dir);
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, ENV_TEXT, { mode: 0o600 });
  await fs.writeFile(path.join(dir, 'rekey.yaml'), CONFIG);
  const overlap = new FakeService('OVERLAP_TOKEN', OLD.OVERLAP_TOKEN, true);
  const single = new FakeService('SINGLE_TOKEN', OLD.SINGLE_TOKEN, false);
  const deployer = new FakeDeployer();
  const sessions = new FakeSessions();
  let control = new FaultyControl();
  const env = async () => new Map(envValues(parseEnv(await fs.readFile(envFile, 'utf8'))));
  const s: FakeStack = {
    dir,
    envFile,
    overlap,
    single,
    deployer,
    sessions,
    get control() {
      return control;
    },
    async deps(hooks) {
      const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
      return {
        ...stackDeps(loaded, { allowUnignored: false }),
        // Overlap first, as the plan stages it; it has an after-deploy step (invalidate:OVERLAP_TOKEN).
        makeTargets: () => [new FakeTarget(overlap, { afterDeploy: true }), new FakeTarget(single)],
        makeSessions: () => sessions,
        deployer,
        verifier: createVerifier(loaded.config),
        progress: silentProgress,
        log: silentLogger,
        control,
        ...(hooks ? { hooks } : {}),
      };
    },
    env,
    journal: () => new JournalStore(path.join(dir, '.rekey')).read(),
    clearFaults() {
      overlap.faults.clear();
      single.faults.clear();
      deployer.fail.clear();
      sessions.fail = false;
      control = new FaultyControl();
    },
    async assertConsistent() {
      const values = await env();
      for (const svc of [overlap, single]) {
        expect([...svc.accepted], `${svc.key}: the service accepts exactly the env file's value`).toEqual([
          values.get(svc.key),
        ]);
      }
      if (deployer.live) {
        expect(Object.fromEntries(deployer.live), 'the app runs with the env file').toEqual(
          Object.fromEntries(values),
        );
      }
      expect(await s.journal(), 'no journal left').toBeUndefined();
    },
  };
  return s;
}

/** The exit code the CLI gives a result (src/cli/report.ts turns it into a thrown error). */
function exitOf(result: RotationResult): number {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    report(result, true);
    return 0;
  } catch (e) {
    return exitCodeOf(e);
  } finally {
    out.mockRestore();
  }
}

/** How to make each step of the protocol fail, by phase, and the error code the failure carries. */
const FAIL: Record<string, { code: string; inject(s: FakeStack, target?: string): void }> = {
  stage: { code: 'ERR_TARGET_UNREACHABLE', inject: (s, t) => svc(s, t).faults.set('stage', 'after') },
  test: { code: 'ERR_TARGET_UNREACHABLE', inject: (s, t) => svc(s, t).faults.set('test', 'before') },
  commit: { code: 'ERR_IO', inject: (s) => s.control.faults.set('commit', 'after') },
  deploy: { code: 'ERR_DEPLOY_FAILED', inject: (s) => s.deployer.fail.add('deploy') },
  invalidate: {
    code: 'ERR_TARGET_UNREACHABLE',
    inject: (s, t) => {
      if (t === 'sessions') s.sessions.fail = true;
      else svc(s, t).faults.set('afterDeploy', 'before');
    },
  },
  verify: { code: 'ERR_VERIFY_FAILED', inject: (s) => s.overlap.faults.set('verify', 'before') },
  finish: { code: 'ERR_TARGET_UNREACHABLE', inject: (s, t) => svc(s, t).faults.set('finish', 'before') },
};

function svc(s: FakeStack, key: string | undefined): FakeService {
  if (key === s.overlap.key) return s.overlap;
  if (key === s.single.key) return s.single;
  throw new Error(`no fake service for ${key}`);
}

/** The parts of the rollback that can fail, and from which failed step on each one runs. */
const ROLLBACK_FAULTS = {
  revert: (s: FakeStack) => {
    s.overlap.faults.set('revert', 'before');
    s.single.faults.set('revert', 'before');
  },
  restore: (s: FakeStack) => s.control.faults.set('restore', 'before'),
  'rollback-deploy': (s: FakeStack) => s.deployer.fail.add('rollback'),
  'verify-old': (s: FakeStack) => s.single.faults.set('verify-old', 'before'),
} as const;
type RollbackFault = keyof typeof ROLLBACK_FAULTS;

// The plan of this stack, from the engine itself (read-only preflight).
const planned = await (async () => {
  const s = await fakeStack();
  const pre = await preflight(await s.deps(), { trigger: 'scheduled' });
  return pre.plan.steps.map((step) => step.id);
})();
const forward = planned.filter((id) => id !== 'prepare' && !id.startsWith('finish'));
const finishes = planned.filter((id) => id.startsWith('finish'));
const at = (id: string) => planned.indexOf(id);

const rollbackCases = forward.flatMap((point) => {
  const faults: Array<'clean' | RollbackFault> = ['clean', 'revert', 'verify-old'];
  // The env file is restored (and can fail to be) once it was written; the rollback command runs
  // once the deploy started.
  if (at(point) >= at('commit')) faults.push('restore');
  if (at(point) >= at('deploy')) faults.push('rollback-deploy');
  return faults.map((rollback) => ({ point, rollback }));
});

describe('engine with fakes: the plan the matrix is built from', () => {
  it('has a step of every phase of the protocol, each of which the matrix knows how to fail', () => {
    for (const phase of PHASES)
      expect(
        planned.map((id) => id.split(':')[0]),
        phase,
      ).toContain(phase);
    for (const id of planned.filter((x) => x !== 'prepare'))
      expect(FAIL, id).toHaveProperty(id.split(':')[0]!);
    expect(planned).toContain('invalidate:sessions');
  });
});

describe('engine with fakes: a rotation', () => {
  it('rotates every service, the env file and the app, purges sessions, retires the old values', async () => {
    const s = await fakeStack();
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    expect(exitOf(r)).toBe(0);
    expect(r.steps.map((x) => `${x.id}:${x.state}`)).toEqual(planned.map((id) => `${id}:done`));
    const env = await s.env();
    expect(env.get('OVERLAP_TOKEN')).not.toBe(OLD.OVERLAP_TOKEN);
    expect(env.get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
    expect(env.get('APP_NAME')).toBe('demo');
    expect(s.deployer.runs).toEqual(['deploy']);
    expect(s.sessions.purges).toBe(1);
    expect(current.gitChecks).toBeGreaterThan(0);
    await s.assertConsistent();
  });
});

describe('engine with fakes: the env file mode is the one injected', () => {
  it("writes the env file with the store's mode, not a mode read from the config", async () => {
    const s = await fakeStack();
    await fs.chmod(s.envFile, 0o640); // a write never widens the mode: start from the wider one
    const store = createEnvFileStore(s.envFile, { mode: 0o640 });
    const r = await rotate({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    expect((await fs.stat(s.envFile)).mode & 0o777).toBe(0o640);
  });
});

describe('engine with fakes: the session purge runs on its triggers only', () => {
  it('a purge configured for compromise rotations is skipped by a scheduled one', async () => {
    const s = await fakeStack();
    s.sessions.on = ['compromise'];
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('rotated');
    expect(r.steps.find((x) => x.id === 'invalidate:sessions')?.state).toBe('skipped');
    expect(s.sessions.purges).toBe(0);
    await s.assertConsistent();
  });
});

describe('engine with fakes: nothing changes when the rotation stops before its journal', () => {
  it('preflight: a service rejects its current value: throws, no journal, no backup, no service touched', async () => {
    const s = await fakeStack();
    s.single.accepted = new Set(['something-else']);
    const err = await rotate(await s.deps(), { trigger: 'scheduled' }).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_TARGET_AUTH'), String(err)).toBe(true);
    expect(exitCodeOf(err)).toBe(1);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    expect(await s.journal()).toBeUndefined();
    expect((await fs.readdir(s.dir)).filter((f) => f.includes('.backup-'))).toEqual([]);
    expect([...s.overlap.calls, ...s.single.calls].filter((c) => c !== 'checkCurrent')).toEqual([]);
    expect(s.deployer.runs).toEqual([]);
  });

  it('prepare: the env file is edited after preflight: throws, no journal, no service touched, approval given back', async () => {
    const s = await fakeStack();
    const notStarted = vi.fn(async () => {});
    const hooks: RotationHooks = {
      authorize: async () => fs.appendFile(s.envFile, 'EDITED=1\n'),
      notStarted,
    };
    const err = await rotate(await s.deps(hooks), { trigger: 'scheduled' }).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_ENVFILE_CHANGED'), String(err)).toBe(true);
    expect(notStarted).toHaveBeenCalledOnce();
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(`${ENV_TEXT}EDITED=1\n`);
    expect(await s.journal()).toBeUndefined();
    expect([...s.overlap.calls, ...s.single.calls].filter((c) => c !== 'checkCurrent')).toEqual([]);
  });
});

describe('engine with fakes: a step fails, the rollback runs', () => {
  it.each(rollbackCases)('$point fails, rollback $rollback', async ({ point, rollback }) => {
    const s = await fakeStack();
    const [phase, target] = point.split(':') as [string, string | undefined];
    FAIL[phase]!.inject(s, target);
    if (rollback !== 'clean') ROLLBACK_FAULTS[rollback](s);
    const deployStarted = at(point) >= at('deploy');

    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.steps.find((x) => x.id === point)?.state).toBe('failed');

    if (rollback === 'clean') {
      record({
        kind: 'failure',
        suite: 'engine unit (in-process fakes)',
        point,
        cause: `injected ${FAIL[phase]!.code}`,
        exit: exitOf(r),
        rolledBack: r.outcome === 'rolled-back',
      });
      expect(r.outcome, r.error?.message).toBe('rolled-back');
      expect(exitOf(r)).toBe(1);
      expect(r.error?.code).toBe(FAIL[phase]!.code);
      expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
      expect(s.deployer.runs).toEqual(deployStarted ? ['deploy', 'rollback'] : []);
      await s.assertConsistent();
      expect([...s.single.accepted]).toEqual([OLD.SINGLE_TOKEN]);
      return;
    }

    // The rollback itself failed: exit 4, the journal kept (still rolling back), the result says who
    // holds what; once the cause is gone, `recover` finishes the rollback.
    expect(r.outcome, r.error?.message).toBe('needs-attention');
    expect(exitOf(r)).toBe(4);
    expect(r.error?.code).toBe('ERR_ROLLBACK_FAILED');
    expect(r.error?.message).toContain(`after ${point} failed (${FAIL[phase]!.code})`);
    const j = await s.journal();
    expect(j?.status).toBe('rolling-back');
    expect(j?.failure?.step).toBe(point);
    if (rollback === 'revert') {
      for (const t of j!.targets) {
        expect(r.state?.[t.key]).toMatch(
          t.state === 'pending' ? /old value \(never changed\)/ : /UNKNOWN: may hold the new value/,
        );
      }
    } else if (rollback === 'restore') {
      expect(r.state?.['env file']).toMatch(/^not restored \(ERR_IO\); backup at /);
      expect((await s.env()).get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
    } else if (rollback === 'rollback-deploy') {
      expect(r.error?.message).toContain('rollback command');
      expect(s.deployer.live?.get('SINGLE_TOKEN')).toBe(OLD.SINGLE_TOKEN); // it ran, and "failed"
    } else {
      expect(r.error?.message).toContain('verify old values');
    }
    if (rollback !== 'restore') expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);

    s.clearFaults();
    const rec = await recover(await s.deps());
    record({
      kind: 'failure',
      suite: 'engine unit (in-process fakes)',
      point: `${point}, then the rollback's ${rollback}`,
      cause: `injected ${FAIL[phase]!.code}; rollback fails (exit ${exitOf(r)}); recover once fixed`,
      exit: exitOf(rec),
      rolledBack: rec.outcome === 'rolled-back',
    });
    expect(rec.outcome, rec.error?.message).toBe('rolled-back');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
    expect((await recover(await s.deps())).outcome).toBe('nothing-to-do');
  });
});

describe('engine with fakes: retiring an old value fails (no rollback: the new values are live)', () => {
  it.each(finishes)('%s fails: exit 4, new values kept, recover finishes it', async (point) => {
    const s = await fakeStack();
    const [phase, target] = point.split(':') as [string, string | undefined];
    FAIL[phase]!.inject(s, target);
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    expect(exitOf(r)).toBe(4);
    expect(r.error?.code).toBe('ERR_NEEDS_ATTENTION');
    const env = await s.env();
    for (const svc of [s.overlap, s.single]) {
      expect(env.get(svc.key)).not.toBe(svc.initial);
      expect(svc.accepted.has(env.get(svc.key)!)).toBe(true);
    }
    expect((await s.journal())?.status).toBe('running');
    expect(s.deployer.runs).toEqual(['deploy']);

    s.clearFaults();
    const rec = await recover(await s.deps());
    expect(rec.outcome, rec.error?.message).toBe('rotated');
    await s.assertConsistent();
    expect((await s.env()).get('SINGLE_TOKEN')).toBe(env.get('SINGLE_TOKEN'));
  });
});

describe('engine with fakes: interruption and the closing hook', () => {
  it('interrupted (Ctrl-C) during a step: the next step refuses to start, the rotation rolls back', async () => {
    const s = await fakeStack();
    const deps = await s.deps();
    const stage = s.single.op.bind(s.single);
    s.single.op = async (name, work) => {
      if (name === 'stage') deps.control?.interrupt();
      return stage(name, work);
    };
    const r = await rotate(deps, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rolled-back');
    expect(r.error?.code).toBe('ERR_INTERRUPTED');
    expect(exitOf(r)).toBe(1);
    expect(r.steps.find((x) => x.id === 'stage:SINGLE_TOKEN')?.state).toBe('done');
    expect(r.steps.find((x) => x.id === 'test:SINGLE_TOKEN')?.state).toBe('pending');
    expect(s.single.calls).not.toContain('test');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('the closing hook (the audit record) fails: exit 4, the journal kept; recover closes it, calling the hook again', async () => {
    const s = await fakeStack();
    const beforeClose = vi.fn(async () => {
      throw new Error('audit log unwritable (injected)');
    });
    const r = await rotate(await s.deps({ beforeClose }), { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    expect(exitOf(r)).toBe(4);
    expect(r.error?.details).toContain('the rotate itself ended: rotated');
    expect(await s.journal()).toBeDefined();
    const again = vi.fn(async () => {});
    const rec = await recover(await s.deps({ beforeClose: again }));
    expect(rec.outcome, rec.error?.message).toBe('rotated');
    expect(again).toHaveBeenCalledOnce();
    await s.assertConsistent();
    expect((await s.env()).get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
  });
});

/**
 * A journal as the previous release wrote it (version 1): the env file's fields at its top level, no
 * store record. Made from this release's journal of the same rotation, field for field.
 */
async function rewriteAsVersion1(s: FakeStack): Promise<void> {
  const file = path.join(s.dir, '.rekey', 'journal.json');
  const j = (await new JournalStore(path.dirname(file)).read())!;
  const { store, backupFile, ...rest } = j;
  expect(store.type).toBe('env-file');
  expect(backupFile).toBe(store.backupPath);
  const v1 = {
    ...rest,
    version: 1,
    envFile: store.envFile,
    backupPath: store.backupPath,
    envBeforeSha256: store.envBeforeSha256,
    envAfterSha256: store.envAfterSha256,
    annotation: store.annotation,
  };
  await fs.writeFile(file, `${JSON.stringify(v1, null, 2)}\n`, { mode: 0o600 });
}

describe('engine with fakes: a journal of version 1 (a rotation killed under the previous release)', () => {
  it('new values in the env file: recover rolls it forward and closes it', async () => {
    const s = await fakeStack();
    FAIL.finish!.inject(s, s.single.key);
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    await rewriteAsVersion1(s);
    const j = await s.journal();
    expect(j?.version).toBe(JOURNAL_VERSION);
    expect(j?.store).toMatchObject({ type: 'env-file', envFile: await fs.realpath(s.envFile) });

    s.clearFaults();
    const rec = await recover(await s.deps());
    expect(rec.outcome, rec.error?.message).toBe('rotated');
    expect(rec.backupPath).toBe(j?.backupFile);
    await s.assertConsistent();
    expect((await s.env()).get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
  });

  it('a rollback under way with the new env file: recover restores the backup the version-1 journal names', async () => {
    const s = await fakeStack();
    FAIL.verify!.inject(s);
    ROLLBACK_FAULTS.restore(s);
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    expect((await s.env()).get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
    await rewriteAsVersion1(s);

    s.clearFaults();
    const rec = await recover(await s.deps());
    expect(rec.outcome, rec.error?.message).toBe('rolled-back');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('the old values in the env file (killed before commit): recover rolls back', async () => {
    const s = await fakeStack();
    FAIL.test!.inject(s, s.single.key);
    ROLLBACK_FAULTS.revert(s);
    const r = await rotate(await s.deps(), { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    await rewriteAsVersion1(s);
    // As if killed before the rollback began: the journal still says running.
    const file = path.join(s.dir, '.rekey', 'journal.json');
    const j = (await new JournalStore(path.dirname(file)).read())!;
    await fs.writeFile(file, JSON.stringify({ ...j, status: 'running', failure: undefined }), {
      mode: 0o600,
    });

    s.clearFaults();
    const rec = await recover(await s.deps());
    expect(rec.outcome, rec.error?.message).toBe('rolled-back');
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
    await s.assertConsistent();
  });
});

describe('engine with fakes: a managed store (FakeStore: versions, compare-and-set, per-key writes)', () => {
  const initial = () => envValues(parseEnv(ENV_TEXT));

  /** Every service accepts exactly the store's value; the app runs with the store's values; no journal. */
  async function assertStoreConsistent(s: FakeStack, store: FakeStore): Promise<void> {
    for (const svc of [s.overlap, s.single])
      expect([...svc.accepted], svc.key).toEqual([store.values.get(svc.key)]);
    if (s.deployer.live)
      expect(Object.fromEntries(s.deployer.live)).toEqual(Object.fromEntries(store.values));
    expect(await s.journal(), 'no journal left').toBeUndefined();
  }

  it('rotates through the port: the store is written once, at commit, and the journal holds its record', async () => {
    const s = await fakeStack();
    const store = new FakeStore(initial());
    const r = await rotate({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    expect(r.outcome, r.error?.message).toBe('rotated');
    expect(store.version).toBe(3); // one write per key, no other
    expect(store.values.get('SINGLE_TOKEN')).not.toBe(OLD.SINGLE_TOKEN);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT); // the env file is not the store here
    expect(r.backupPath).toBeUndefined();
    await assertStoreConsistent(s, store);
  });

  it('another writer between prepare and commit: the compare-and-set fails, the rotation rolls back, nothing is lost', async () => {
    const s = await fakeStack();
    const store = new FakeStore(initial());
    store.beforeCommit = () => {
      store.beforeCommit = undefined;
      store.write('APP_NAME', 'written-by-someone-else');
    };
    const r = await rotate({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    record({
      kind: 'failure',
      suite: 'engine unit (in-process fakes)',
      point: 'commit (managed store)',
      cause: 'another writer between prepare and commit: compare-and-set fails',
      exit: exitOf(r),
      rolledBack: r.outcome === 'rolled-back' && store.values.get('APP_NAME') === 'written-by-someone-else',
    });
    expect(r.outcome, r.error?.message).toBe('rolled-back');
    expect(exitOf(r)).toBe(1);
    expect(r.error?.code).toBe('ERR_ENVFILE_CHANGED');
    expect(r.error?.message).toContain('check-and-set failed');
    expect(r.steps.find((x) => x.id === 'commit')?.state).toBe('failed');
    expect(r.steps.find((x) => x.id === 'restore')?.state).toBe('done');
    // The other writer's value stays; the managed keys hold their old values; every service too.
    expect(store.values.get('APP_NAME')).toBe('written-by-someone-else');
    expect(store.values.get('OVERLAP_TOKEN')).toBe(OLD.OVERLAP_TOKEN);
    expect(store.values.get('SINGLE_TOKEN')).toBe(OLD.SINGLE_TOKEN);
    expect(s.deployer.runs).toEqual([]);
    await assertStoreConsistent(s, store);
  });

  it('killed between two per-key writes of the commit: recover finds the store partial and rolls back', async () => {
    const s = await fakeStack();
    const store = new FakeStore(initial());
    store.failAfterKeys = 1;
    store.failRestore = true;
    const r = await rotate({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    // As a kill during the commit leaves it: the journal running, commit begun, nothing after it.
    const file = path.join(s.dir, '.rekey', 'journal.json');
    const j = (await new JournalStore(path.dirname(file)).read())!;
    const commitAt = j.steps.findIndex((x: { id: string }) => x.id === 'commit');
    const steps = j.steps
      .slice(0, commitAt + 1)
      .map((x: { id: string }) => (x.id === 'commit' ? { ...x, state: 'running', error: undefined } : x));
    await fs.writeFile(file, JSON.stringify({ ...j, status: 'running', failure: undefined, steps }), {
      mode: 0o600,
    });
    expect(store.values.get('OVERLAP_TOKEN')).not.toBe(OLD.OVERLAP_TOKEN);
    expect(store.values.get('SINGLE_TOKEN')).toBe(OLD.SINGLE_TOKEN);

    store.failAfterKeys = undefined;
    store.failRestore = false;
    const rec = await recover({ ...(await s.deps()), store });
    record({
      kind: 'crash',
      suite: 'engine unit (in-process fakes)',
      point: 'commit, between two per-key writes (managed store)',
      target: 'OVERLAP_TOKEN',
      outcome: `${store.positions[0]} → ${rec.outcome}`,
      converged: rec.outcome === 'rolled-back' && store.values.get('OVERLAP_TOKEN') === OLD.OVERLAP_TOKEN,
    });
    expect(store.positions[0]).toBe('partial');
    expect(rec.outcome, rec.error?.message).toBe('rolled-back');
    expect(store.values.get('OVERLAP_TOKEN')).toBe(OLD.OVERLAP_TOKEN);
    expect(store.values.get('SINGLE_TOKEN')).toBe(OLD.SINGLE_TOKEN);
    await assertStoreConsistent(s, store);
  });

  it('the store cannot be restored: exit 4 naming the store and where its old values are; recover finishes it', async () => {
    const s = await fakeStack();
    const store = new FakeStore(initial());
    FAIL.verify!.inject(s);
    store.failRestore = true;
    const r = await rotate({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    expect(r.outcome).toBe('needs-attention');
    expect(exitOf(r)).toBe(4);
    expect(r.error?.code).toBe('ERR_ROLLBACK_FAILED');
    expect(r.error?.message).toContain('fake store: fake store: write refused (injected)');
    expect(r.state?.['fake store']).toBe('not restored (ERR_IO); old values in fake version 1');
    expect((await s.journal())?.status).toBe('rolling-back');

    s.clearFaults();
    store.failRestore = false;
    const rec = await recover({ ...(await s.deps()), store });
    expect(rec.outcome, rec.error?.message).toBe('rolled-back');
    expect(store.values.get('SINGLE_TOKEN')).toBe(OLD.SINGLE_TOKEN);
    await assertStoreConsistent(s, store);
  });
});

describe('engine with fakes: the plan speaks of the store it was given', () => {
  it("names the store's backup and commit in the plan's steps", async () => {
    const s = await fakeStack();
    const env = await preflight(await s.deps(), { trigger: 'scheduled' });
    expect(env.plan.steps.find((x) => x.id === 'commit')?.title).toBe('write the env file atomically');
    const store = new FakeStore(envValues(parseEnv(ENV_TEXT)));
    const pre = await preflight({ ...(await s.deps()), store }, { trigger: 'scheduled' });
    expect(pre.plan.steps.find((x) => x.id === 'prepare')?.title).toBe(
      'generate new values, back up the fake store, write the journal',
    );
    expect(pre.plan.steps.find((x) => x.id === 'commit')?.title).toBe('write the fake store (cas)');
  });
});
