/**
 * In-memory fakes for in-process tests of the rotation engine: a {@link FakeService} (the values a
 * service accepts, and the operations told to fail), a {@link FakeTarget} driving it through the
 * `Target` interface, a {@link FakeDeployer} standing in for the deploy and rollback commands (the
 * "app": which env values it runs with), and {@link FakeSessions}. Nothing here opens a socket or
 * starts a process.
 *
 * The engine takes them injected through its ports (src/engine/ports.ts: `EngineDeps.makeTargets`,
 * `makeSessions`, `deployer`); it has no port for the env file yet: that is a real file in a temp dir.
 */
import { randomBytes } from 'node:crypto';
import type { Trigger } from '../../../src/config/schema.js';
import type {
  CheckResult,
  Deployer,
  DeployRequest,
  SessionInvalidator,
  Target,
  TargetContext,
  TargetDescription,
  Values,
} from '../../../src/engine/ports.js';
import { RotationControl } from '../../../src/engine/run.js';
import { envValues, readEnvFile } from '../../../src/envfile/index.js';
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
 * The deploy and rollback commands: each run (failed or not) restarts the "app" with the env file's
 * values at that moment (a failed deploy may have restarted part of it); `fail` makes a run exit 1.
 */
export class FakeDeployer implements Deployer {
  readonly command = 'fake-deploy';
  readonly rollbackCommand = 'fake-rollback';
  readonly timeoutMs = 5000;
  readonly fail = new Set<'deploy' | 'rollback'>();
  readonly runs: Array<'deploy' | 'rollback'> = [];
  /** The env values the app last started with; undefined until a deploy ran. */
  live: Map<string, string> | undefined;

  constructor(readonly envFile: () => string) {}

  async run(label: 'deploy' | 'rollback', request: DeployRequest): Promise<{ ms: number }> {
    await request.started(process.pid);
    this.runs.push(label);
    this.live = new Map(envValues((await readEnvFile(this.envFile())).doc));
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
