/**
 * One rotation in flight: its journal, its targets, and the step runner that journals every step
 * before it begins and after it ends (fsynced), reports progress, honours interruption at safe
 * points, and hosts the documented crash points used by the fault tests.
 */

import os from 'node:os';
import { recordedTrigger } from '../config/triggers.js';
import { RekeyError } from '../lib/errors.js';
import { faultPoint } from '../lib/faults.js';
import type { Logger } from '../lib/log.js';
import { safeMessage } from '../lib/redact.js';
import {
  type Journal,
  type JournalStep,
  type JournalStore,
  type JournalTarget,
  markStep,
} from './journal.js';
import type { StepRef } from './plan.js';
import type {
  CheckResult,
  Deployer,
  EvictionFinding,
  SessionInvalidator,
  SharedMemo,
  StackLock,
  Store,
  Target,
  TargetCheck,
  TargetContext,
  TargetFacts,
  Values,
  Verifier,
} from './ports.js';
import type { Progress } from './progress.js';

/** Lets the CLI interrupt a rotation (Ctrl-C) and know when interrupting is unsafe. */
export class RotationControl {
  #interrupted = false;
  #critical: string | undefined;

  interrupt(): void {
    this.#interrupted = true;
  }
  get interrupted(): boolean {
    return this.#interrupted;
  }
  /** Set while a step must not be cut short (the env file is being written). */
  get critical(): string | undefined {
    return this.#critical;
  }
  async criticalSection<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#critical = what;
    try {
      return await fn();
    } finally {
      this.#critical = undefined;
    }
  }
}

export interface RotationHooks {
  /** After the read-only preflight checks, before anything changes: approvals. Throws to refuse. */
  authorize?(run: { plan: import('./plan.js').Plan; meta: Journal['meta'] }): Promise<void>;
  /**
   * After `authorize` passed, when the rotation stops before its journal exists (nothing changed:
   * an env file edited meanwhile, an interruption, a failed journal write): give back what
   * `authorize` took (a single-use approval). Must not throw.
   */
  notStarted?(error: unknown): Promise<void>;
  /**
   * When the journal was written and the first change is about to be made (notifications). Called
   * without waiting: it must return at once and never throw; what it starts runs beside the rotation.
   */
  started?(journal: Journal): void;
  /**
   * When a rotation or rollback has ended (rotated, rolled back), BEFORE its journal is closed: what
   * must be durable before the journal goes (the audit record). Throwing keeps the journal: the run
   * ends `needs-attention` with the thrown error, and `recover` ends it the same way and calls this
   * again, so it must be idempotent (a rerun must not write twice).
   */
  beforeClose?(result: RotationResult, journal: Journal): Promise<void>;
  /** When a rotation ends, whatever the outcome (audit record, backup archive). Must not throw. */
  completed?(result: RotationResult, journal: Journal): Promise<void>;
}

/**
 * What the engine is given: the store the app reads its secrets from, the adapters behind the ports,
 * and the few settings it needs. Never the whole config (the CLI wires it: src/cli/context.ts).
 */
export interface EngineDeps {
  /** Where the app reads its secrets (the env file: src/stores/env-file/). */
  readonly store: Store;
  /** The stack's state directory: the journal, its history, the lock, the command logs. */
  readonly stateDir: string;
  /** The stack's name, for messages. */
  readonly stack: string;
  /** Builds the configured targets; `env` is the store's current values. */
  readonly makeTargets: (env: ReadonlyMap<string, string>) => Target[] | Promise<Target[]>;
  readonly makeSessions?: (
    env: ReadonlyMap<string, string>,
  ) => SessionInvalidator | undefined | Promise<SessionInvalidator | undefined>;
  /** The deploy and rollback commands; absent when no deploy is configured (the step is skipped). */
  readonly deployer?: Deployer;
  /** The validation table (configured checks and the targets' rows). */
  readonly verifier: Verifier;
  readonly progress: Progress;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly hooks?: RotationHooks;
  readonly control?: RotationControl;
  /** A lock beyond the state directory's (a Kubernetes Lease), taken by rotate, rollback and recover. */
  readonly stackLock?: StackLock;
  /**
   * How many targets are worked on at once (`concurrency:` in rekey.yaml; default 8, 1 = one after
   * another): consecutive steps of one phase on different targets, and the preflight checks.
   */
  readonly concurrency?: number;
}

/** The engine's default {@link EngineDeps.concurrency}. */
export const DEFAULT_CONCURRENCY = 8;

export type Outcome = 'rotated' | 'rolled-back' | 'needs-attention' | 'nothing-to-do' | 'planned';

export interface RotationResult {
  readonly id: string;
  readonly kind: 'rotate' | 'rollback' | 'recover';
  readonly outcome: Outcome;
  /** The recorded trigger: `manual` for a hand rotation without --trigger, `rollback` for a rollback. */
  readonly trigger?: string;
  readonly keys: readonly string[];
  readonly startedAt: string;
  readonly endedAt: string;
  readonly ms: number;
  readonly steps: readonly JournalStep[];
  readonly checks: readonly CheckResult[];
  readonly backupPath?: string;
  readonly warnings: readonly string[];
  readonly error?: { code: string; message: string; hint: string; details: readonly string[] };
  /**
   * recover: the deploy or rollback command the killed rotation left running, and what became of it
   * (`not running`, `waited` for it to end, `ended` by SIGTERM, `killed` by SIGKILL).
   */
  readonly leftOverCommand?: {
    readonly label: 'deploy' | 'rollback';
    readonly pid: number;
    readonly outcome: 'not running' | 'waited' | 'ended' | 'killed';
    readonly ms: number;
  };
  /** What each service holds after a failed rollback, by key (never a value). */
  readonly state?: Readonly<Record<string, string>>;
  /** Compromise rotations: what an attacker could still use, per service (src/engine/eviction.ts). */
  readonly eviction?: readonly EvictionFinding[];
}

/**
 * The result of a command that found nothing to change (recover without a journal, a rollback to the
 * values the store already holds).
 *
 * @example
 * nothingToDo('recover', new Date()); // { outcome: 'nothing-to-do', keys: [], ... }
 */
export function nothingToDo(
  kind: RotationResult['kind'],
  started: Date,
  warnings: readonly string[] = [],
): RotationResult {
  const ended = new Date();
  return {
    id: '',
    kind,
    outcome: 'nothing-to-do',
    keys: [],
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    ms: ended.getTime() - started.getTime(),
    steps: [],
    checks: [],
    warnings,
  };
}

export class Run {
  readonly ctx: TargetContext;
  readonly checks: CheckResult[] = [];
  readonly warnings: string[] = [];
  readonly startedAt = new Date();

  constructor(
    readonly deps: EngineDeps,
    readonly store: JournalStore,
    readonly journal: Journal,
    readonly targets: ReadonlyMap<string, Target>,
  ) {
    this.ctx = {
      trigger: journal.trigger,
      log: deps.log,
      rotating: (key) => journal.targets.find((t) => key in t.new && t.new[key] !== t.old[key])?.new[key],
    };
  }

  /** The memo of the batch running now (TargetContext.shared), emptied and closed after each batch. */
  readonly shared: SharedMemo = new Map();

  /** Set when a journal write failed during a rollback (disk full, I/O error): named in the result. */
  journalWriteError: string | undefined;

  /** The last journal write queued (settled or not): the next one starts after it. */
  #lastWrite: Promise<void> = Promise.resolve();
  /** A write queued behind the one in flight and not yet started: later saves join it. */
  #nextWrite: Promise<void> | undefined;

  /**
   * Writes the journal (fsynced). Safe to call from steps running concurrently: writes never
   * overlap, and a save asked for while one is in flight joins the next write, which starts after
   * it and serializes the journal as it is then. So the promise resolves only once a write that
   * includes every change made before the call is durable; it rejects when that write failed.
   */
  save(): Promise<void> {
    if (this.#nextWrite !== undefined) return this.#nextWrite;
    const write = async () => {
      this.#nextWrite = undefined;
      this.journal.pid = process.pid;
      this.journal.host = os.hostname();
      await this.store.write(this.journal);
    };
    const next = this.#lastWrite.then(write, write);
    this.#nextWrite = next;
    this.#lastWrite = next;
    return next;
  }

  /**
   * Saves, but during a rollback a failed write must not stop the undoing: the journal on disk still
   * holds both values of every target and every step is idempotent, so carry on and say so.
   */
  async saveBestEffort(): Promise<void> {
    try {
      await this.save();
    } catch (e) {
      if (this.journalWriteError === undefined) {
        this.journalWriteError = safeMessage(e);
        this.deps.progress.note(
          `warning: cannot write the journal (${this.journalWriteError}); rolling back anyway`,
        );
      }
    }
  }

  target(key: string): Target {
    const t = this.targets.get(key);
    if (t === undefined) {
      throw new RekeyError(
        'ERR_NEEDS_ATTENTION',
        `the journal names ${key}, which rekey.yaml no longer configures`,
        {
          hint: `Restore the secret ${key} in rekey.yaml as it was when the rotation began, then run \`rekey recover\`.`,
        },
      );
    }
    return t;
  }

  journalTarget(key: string): JournalTarget {
    const t = this.journal.targets.find((x) => x.key === key);
    if (t === undefined) throw new RekeyError('ERR_INTERNAL', `no journal entry for ${key}`);
    return t;
  }

  /**
   * The context for one target's stage or revert: `facts` are kept in its journal entry. Forward
   * (stage) a failed journal write fails the step; during a rollback it is best effort, like the rest.
   */
  targetCtx(jt: JournalTarget, options: { forward?: boolean } = {}): TargetContext {
    const facts: TargetFacts = {
      get: (name) => jt.facts?.[name],
      record: async (more) => {
        jt.facts = { ...jt.facts, ...more };
        await (options.forward === false ? this.saveBestEffort() : this.save());
      },
    };
    return { ...this.ctx, facts };
  }

  /** What the store holds now (the env file's values). */
  async currentValues(): Promise<ReadonlyMap<string, string>> {
    return (await this.deps.store.read()).values;
  }

  /** Guards a store write against Ctrl-C (see {@link RotationControl.criticalSection}). */
  readonly guard = <T>(what: string, write: () => Promise<T>): Promise<T> =>
    this.deps.control ? this.deps.control.criticalSection(what, write) : write();

  /** Each target with its old and new values and its state, in journal order. */
  pairs(): Array<{ target: Target; cur: Values; next: Values; state: JournalTarget['state'] }> {
    return this.journal.targets.map((t) => ({
      target: this.target(t.key),
      cur: t.old,
      next: t.new,
      state: t.state,
    }));
  }

  /**
   * Runs one step: journal "running" (fsync) → crash point @begin → work → crash point @end →
   * journal "done" (fsync). A forward step first checks for an interruption (the safe point).
   */
  async step<T>(
    step: StepRef,
    title: string,
    work: () => Promise<T>,
    options: { forward?: boolean } = {},
  ): Promise<T> {
    if (options.forward !== false && this.deps.control?.interrupted) {
      throw new RekeyError('ERR_INTERRUPTED', 'interrupted (Ctrl-C or SIGTERM)');
    }
    const forward = options.forward !== false;
    const save = () => (forward ? this.save() : this.saveBestEffort());
    const { id } = step;
    markStep(this.journal, step, 'running');
    await save();
    this.deps.progress.begin(id, title);
    let result: T;
    try {
      await faultPoint(step, 'begin');
      result = await work();
      await faultPoint(step, 'end');
    } catch (e) {
      const err = asRekeyError(e);
      markStep(this.journal, step, 'failed', { code: err.code, message: err.message });
      await this.save().catch(() => {});
      this.deps.progress.end(id, 'failed', err.message);
      throw err;
    }
    markStep(this.journal, step, 'done');
    await save();
    this.deps.progress.end(id, 'ok', typeof result === 'string' ? result : undefined);
    return result;
  }

  /** Marks a step skipped (journaled so recover does not redo it). */
  async skip(step: StepRef, title: string, why: string): Promise<void> {
    markStep(this.journal, step, 'skipped');
    await this.save();
    this.deps.progress.begin(step.id, title);
    this.deps.progress.end(step.id, 'skipped', why);
  }

  result(outcome: Outcome, extra: Partial<RotationResult> = {}): RotationResult {
    const ended = new Date();
    return {
      id: this.journal.id,
      kind: this.journal.kind,
      outcome,
      trigger: recordedTrigger(this.journal),
      keys: this.journal.targets.map((t) => t.key),
      startedAt: this.startedAt.toISOString(),
      endedAt: ended.toISOString(),
      ms: ended.getTime() - this.startedAt.getTime(),
      steps: this.journal.steps,
      checks: this.checks,
      ...(this.journal.backupFile === undefined ? {} : { backupPath: this.journal.backupFile }),
      warnings: this.warnings,
      ...extra,
    };
  }
}

/**
 * Runs the validation table against the env file as it is now, keeps the rows in the run, and throws
 * ERR_VERIFY_FAILED naming the failed rows. `what` words the failure ("verification failed").
 */
export async function verifyStep(run: Run, targets: readonly TargetCheck[], what: string): Promise<string> {
  const env = await run.currentValues();
  const rows = await run.deps.verifier.verify(run.ctx, env, targets);
  run.checks.splice(0, run.checks.length, ...rows);
  const failed = rows.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new RekeyError('ERR_VERIFY_FAILED', `${what}: ${failed.map((r) => r.name).join(', ')}`, {
      details: failed.map((r) => `${r.name}: ${r.detail}`),
    });
  }
  return `${rows.length} checks passed`;
}

/**
 * Runs the `beforeClose` hook of a run that ended (`result`: rotated or rolled back) and is about to
 * close its journal. Returns undefined when the journal may be closed; otherwise the journal is kept
 * (for `recover`) and the returned `needs-attention` result carries the hook's error (exit 4).
 */
export async function beforeClose(run: Run, result: RotationResult): Promise<RotationResult | undefined> {
  try {
    await run.deps.hooks?.beforeClose?.(result, run.journal);
    return undefined;
  } catch (e) {
    const err = asRekeyError(e);
    const held = run.result('needs-attention', {
      error: {
        ...errorInfo(err),
        details: [
          `the ${result.kind} itself ended: ${result.outcome}`,
          'the journal is kept: `rekey recover` finishes what is pending, then closes it',
          ...err.details,
        ],
      },
      ...(result.state ? { state: result.state } : {}),
    });
    await run.deps.hooks?.completed?.(held, run.journal);
    return held;
  }
}

/** Any thrown value as a RekeyError with a redacted one-line message. */
export function asRekeyError(e: unknown): RekeyError {
  if (e instanceof RekeyError) return e;
  return new RekeyError('ERR_INTERNAL', safeMessage(e), { cause: e });
}

export function errorInfo(e: RekeyError): NonNullable<RotationResult['error']> {
  return { code: e.code, message: e.message, hint: e.hint, details: e.details };
}
