/**
 * In-memory fakes for in-process tests of the rotation engine: a {@link FakeService} (the values a
 * service accepts, and the operations told to fail), a {@link FakeTarget} driving it through the
 * `Target` interface, a {@link FakeDeployer} standing in for the deploy and rollback commands (the
 * "app": which env values it runs with), and {@link FakeSessions}. Nothing here opens a socket or
 * starts a process.
 *
 * The engine takes them injected through its ports (src/engine/ports.ts: `EngineDeps.makeTargets`,
 * `makeSessions`, `deployer`, `store`). A {@link FakeStore} stands in for a managed store (versions,
 * compare-and-set, per-key writes); the env file store itself is tested on a real file in a temp dir.
 */
import { randomBytes } from 'node:crypto';
import type { Trigger } from '../../../src/config/schema.js';
import type {
  CheckResult,
  Deployer,
  DeployRequest,
  PreparedCommit,
  SessionInvalidator,
  Store,
  StoreChange,
  StorePosition,
  StoreRecord,
  StoreSnapshot,
  StoreWriteGuard,
  Target,
  TargetContext,
  TargetDescription,
  Values,
} from '../../../src/engine/ports.js';
import { RotationControl } from '../../../src/engine/run.js';
import { RekeyError } from '../../../src/lib/errors.js';

/** The operations a fake service can be told to fail; `verify-old` is the rollback's check of the old value. */
export type FakeOp =
  | 'checkCurrent'
  | 'stage'
  | 'test'
  | 'afterDeploy'
  | 'verify'
  | 'finish'
  | 'revert'
  | 'verify-old';

/**
 * A service holding the values it accepts. `overlap` services accept the new value beside the old
 * one once staged; single-credential ones swap at once.
 */
export class FakeService {
  accepted: Set<string>;
  /** Operations that fail: `before` changes nothing, `after` does the work, then throws. */
  readonly faults = new Map<FakeOp, 'before' | 'after'>();
  /** Every operation called, in order (`stage`, `revert`, ...). */
  readonly calls: FakeOp[] = [];

  constructor(
    readonly key: string,
    readonly initial: string,
    readonly overlap: boolean,
  ) {
    this.accepted = new Set([initial]);
  }

  async op(name: FakeOp, work: () => void = () => {}): Promise<void> {
    this.calls.push(name);
    const fault = this.faults.get(name);
    if (fault === 'before') throw injected(this.key, name);
    work();
    if (fault === 'after') throw injected(this.key, name);
  }
}

function injected(key: string, op: string): RekeyError {
  return new RekeyError('ERR_TARGET_UNREACHABLE', `fake ${key}: ${op} failed (injected)`);
}

/** A `Target` over a {@link FakeService}; `afterDeploy` only when asked for (it adds an `invalidate:KEY` step). */
export class FakeTarget implements Target {
  readonly type = 'fake';
  readonly keys: readonly string[];
  readonly secretKeys: readonly string[];
  readonly afterDeploy?: (ctx: TargetContext, cur: Values, next: Values) => Promise<void>;

  constructor(
    readonly service: FakeService,
    options: { afterDeploy?: boolean } = {},
  ) {
    this.keys = [service.key];
    this.secretKeys = [service.key];
    if (options.afterDeploy) this.afterDeploy = () => service.op('afterDeploy');
  }

  get key(): string {
    return this.service.key;
  }

  private v(values: Values): string {
    return values[this.key] ?? '';
  }

  describe(_trigger: Trigger): TargetDescription {
    return { fileOnly: false, overlap: this.service.overlap, retiresOld: true, actions: ['fake'] };
  }

  async inspect(): Promise<[]> {
    return [];
  }

  async checkCurrent(_ctx: TargetContext, cur: Values): Promise<void> {
    await this.service.op('checkCurrent');
    if (!this.service.accepted.has(this.v(cur))) {
      throw new RekeyError('ERR_TARGET_AUTH', `fake ${this.key} rejects the current value`);
    }
  }

  generate(): Values {
    return { [this.key]: `${this.key.toLowerCase()}-new-${randomBytes(6).toString('hex')}` };
  }

  async stage(_ctx: TargetContext, _cur: Values, next: Values): Promise<void> {
    const s = this.service;
    await s.op('stage', () => {
      if (s.overlap) s.accepted.add(this.v(next));
      else s.accepted = new Set([this.v(next)]);
    });
  }

  async test(_ctx: TargetContext, next: Values): Promise<void> {
    await this.service.op('test');
    if (!this.service.accepted.has(this.v(next))) {
      throw new RekeyError('ERR_TARGET_AUTH', `fake ${this.key} rejects the new value`);
    }
  }

  async verify(
    _ctx: TargetContext,
    next: Values,
    previous?: Values,
    retired?: boolean,
  ): Promise<CheckResult[]> {
    const s = this.service;
    const value = this.v(next);
    const op: FakeOp = value === s.initial ? 'verify-old' : 'verify';
    s.calls.push(op);
    const failed = s.faults.has(op);
    const rows: CheckResult[] = [
      {
        name: `${this.key} accepted`,
        target: this.key,
        ok: !failed && s.accepted.has(value),
        detail: failed ? 'rejected (injected)' : s.accepted.has(value) ? 'accepted' : 'rejected',
      },
    ];
    if (retired && previous && this.v(previous) !== value) {
      const still = s.accepted.has(this.v(previous));
      rows.push({
        name: `${this.key} old rejected`,
        target: this.key,
        ok: !still,
        detail: still ? 'accepted' : 'rejected',
      });
    }
    return rows;
  }

  async finish(_ctx: TargetContext, _cur: Values, next: Values): Promise<void> {
    await this.service.op('finish', () => {
      this.service.accepted = new Set([this.v(next)]);
    });
  }

  async revert(_ctx: TargetContext, cur: Values): Promise<void> {
    await this.service.op('revert', () => {
      this.service.accepted = new Set([this.v(cur)]);
    });
  }
}

/**
 * The deploy and rollback commands: each run (failed or not) restarts the "app" with the store's
 * values at that moment (the request's `env`: a failed deploy may have restarted part of it); `fail`
 * makes a run exit 1.
 */
export class FakeDeployer implements Deployer {
  readonly command = 'fake-deploy';
  readonly rollbackCommand = 'fake-rollback';
  readonly timeoutMs = 5000;
  readonly fail = new Set<'deploy' | 'rollback'>();
  readonly runs: Array<'deploy' | 'rollback'> = [];
  /** The env values the app last started with; undefined until a deploy ran. */
  live: Map<string, string> | undefined;

  async run(label: 'deploy' | 'rollback', request: DeployRequest): Promise<{ ms: number }> {
    await request.started(process.pid);
    this.runs.push(label);
    this.live = new Map(request.env);
    if (this.fail.has(label)) {
      throw new RekeyError('ERR_DEPLOY_FAILED', `${label} command failed (exit 1)`, { details: ['│ boom'] });
    }
    return { ms: 1 };
  }
}

/** The session purge; counts purges, fails on demand. */
export class FakeSessions implements SessionInvalidator {
  /** The triggers it purges on (every trigger when undefined). */
  on: Trigger[] | undefined;
  fail = false;
  purges = 0;

  describe(): string {
    return 'purge the fake sessions';
  }

  async invalidate(): Promise<string> {
    if (this.fail) throw new RekeyError('ERR_TARGET_UNREACHABLE', 'fake sessions: purge failed (injected)');
    this.purges++;
    return `${this.purges} purges`;
  }
}

/**
 * A `RotationControl` (the engine's Ctrl-C seam) that can fail the env file's writes: `commit` (the
 * rotation's write) or `restore` (the rollback's), `before` or `after` the write happened.
 */
export class FaultyControl extends RotationControl {
  readonly faults = new Map<'commit' | 'restore', 'before' | 'after'>();

  override async criticalSection<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const which =
      what === 'writing the env file' ? 'commit' : what === 'restoring the env file' ? 'restore' : undefined;
    const fault = which && this.faults.get(which);
    if (fault === 'before')
      throw new RekeyError('ERR_IO', `cannot write the env file (injected at ${which})`);
    const r = await super.criticalSection(what, fn);
    if (fault === 'after')
      throw new RekeyError('ERR_IO', `env file written, then failed (injected at ${which})`);
    return r;
  }
}

/**
 * A managed store in memory, after Vault KV v2 and SSM: every write makes a new version; commit is
 * compare-and-set on the version prepare read (another writer in between makes it fail, as Vault's
 * `cas` does) and writes key by key (as SSM does: `failAfterKeys` stops it part way); `position`
 * compares the managed keys only; `restore` puts the old values back as a new version.
 */
export class FakeStore implements Store {
  readonly type = 'fake';
  readonly name = 'fake store (in memory)';
  readonly label = 'fake store';
  readonly titles = {
    commit: 'write the fake store (cas)',
    restore: 'write the old values back to the fake store',
  };
  values: Map<string, string>;
  version = 1;
  /** Runs inside `commit` before its compare-and-set: another writer. */
  beforeCommit: (() => void) | undefined;
  /** `commit` writes this many keys, then fails (a crash between two per-key writes). */
  failAfterKeys: number | undefined;
  /** `restore` fails before writing. */
  failRestore = false;
  /** Every position asked, in order. */
  readonly positions: StorePosition[] = [];

  constructor(initial: ReadonlyMap<string, string>) {
    this.values = new Map(initial);
  }

  /** Another writer: sets `key`, a new version. */
  write(key: string, value: string): void {
    this.values.set(key, value);
    this.version++;
  }

  async check(): Promise<void> {}

  async read(): Promise<StoreSnapshot> {
    return { values: new Map(this.values), version: String(this.version) };
  }

  checkKeys(): void {}

  async prepare(snapshot: StoreSnapshot, _changes: readonly StoreChange[]): Promise<PreparedCommit> {
    if (snapshot.version !== String(this.version))
      throw new RekeyError('ERR_ENVFILE_CHANGED', 'fake store changed since preflight; nothing was changed');
    return {
      record: { type: 'fake', version: this.version },
      summary: `fake version ${this.version} kept`,
    };
  }

  async commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard?: StoreWriteGuard,
  ): Promise<{ summary: string; record?: StoreRecord }> {
    this.beforeCommit?.();
    if (changes.every((c) => this.values.get(c.key) === c.value)) return { summary: 'already committed' };
    if (this.version !== record.version) {
      throw new RekeyError(
        'ERR_ENVFILE_CHANGED',
        `fake store: check-and-set failed (version ${this.version}, expected ${String(record.version)})`,
      );
    }
    const write = async () => {
      for (const [i, c] of changes.entries()) {
        if (this.failAfterKeys !== undefined && i >= this.failAfterKeys)
          throw new RekeyError('ERR_IO', `fake store: write of ${c.key} failed (injected)`);
        this.write(c.key, c.value);
      }
    };
    await (guard ? guard('writing the fake store', write) : write());
    return { summary: `fake version ${this.version}`, record: { ...record, committed: this.version } };
  }

  async position(_record: StoreRecord, old: Values, next: Values): Promise<StorePosition> {
    const keys = Object.keys(next);
    const holds = (v: Values) => keys.every((k) => this.values.get(k) === v[k]);
    const p: StorePosition = holds(next)
      ? 'new'
      : holds(old)
        ? 'old'
        : keys.every((k) => this.values.get(k) === old[k] || this.values.get(k) === next[k])
          ? 'partial'
          : 'other';
    this.positions.push(p);
    return p;
  }

  async restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
  ): Promise<{ summary: string; record?: StoreRecord }> {
    if (this.failRestore) throw new RekeyError('ERR_IO', 'fake store: write refused (injected)');
    const position = await this.position(record, Object.fromEntries(old.map((c) => [c.key, c.value])), next);
    if (position === 'old') return { summary: 'already the old values' };
    if (position === 'other') throw this.conflict(record);
    for (const c of old) if (this.values.get(c.key) !== c.value) this.write(c.key, c.value);
    return {
      summary: `old values back (fake version ${this.version})`,
      record: { ...record, restored: this.version },
    };
  }

  kept(record: StoreRecord): string {
    return `old values in fake version ${String(record.version)}`;
  }

  conflict(record: StoreRecord): RekeyError {
    return new RekeyError(
      'ERR_ENVFILE_CHANGED',
      `fake store holds neither the old nor the new values (${this.kept(record)})`,
    );
  }

  async owner(record: StoreRecord): Promise<string | undefined> {
    return record.type === 'fake' ? undefined : `a ${record.type} store`;
  }
}
