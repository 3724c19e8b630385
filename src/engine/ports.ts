/**
 * The ports: the interfaces through which the engine drives everything outside it. The adapters
 * (src/targets/, src/stores/, src/sessions/, src/deploy/, src/verify/) implement them and import only this file
 * of the engine; the engine imports no adapter; the CLI (src/cli/context.ts) wires adapters in.
 * This file imports nothing but types of lib/ and config/ (test/docs/layers.test.ts checks it).
 *
 * ## Target
 *
 * The one interface every secret type implements (after the AWS rotation templates' create / set /
 * test / finish steps). The engine drives targets only through it and knows nothing of the services.
 *
 * Credentials are passed as {@link Values}: the env-file keys a target owns mapped to their values
 * (for example `{ POSTGRES_USER: 'app_blue', POSTGRES_PASSWORD: '…' }`). `cur` is what the env file
 * holds before the rotation, `next` what it will hold after.
 *
 * Every operation must be idempotent: the engine re-runs any of them after a crash, in any state the
 * crash left. An operation first checks whether it is already done (try `next`, then `cur`, before
 * changing anything), and never retries a rejected password in a loop (Grafana locks users out).
 */
import type { Trigger } from '../config/schema.js';
import type { RekeyError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';

export type Values = Readonly<Record<string, string>>;

export interface TargetContext {
  readonly trigger: Trigger;
  readonly log: Logger;
  /** Aborts long operations (connection attempts) when the rotation is interrupted. */
  readonly signal?: AbortSignal;
  /** This target's durable notes in the rotation's journal (stage and revert only; absent elsewhere). */
  readonly facts?: TargetFacts;
  /**
   * A memo shared by the targets' calls of one phase — the preflight checks, the stage steps of one
   * batch, the finish steps — and dropped after it: targets on the same service may share work
   * there (PostgreSQL: one check of the admin login per server in preflight, a few admin connections
   * for all the roles' stages, one listing of LOGIN roles for all the finishes). A value with a
   * `close()` method is closed when the phase ends. Absent elsewhere (revert, recover's checks):
   * then each target works for itself.
   */
  readonly shared?: SharedMemo;
  /**
   * The new value of `key` when the rotation under way changes it (the journal holds it), else
   * undefined. For a password a target reads from the env file but does not own (an `admin`'s
   * `passwordKey`) that another secret of the same rotation rotates: the targets read the env file
   * once, at the start, but once that secret's stage ran the service may accept only the new value.
   * Such a target tries the env file's value first and this one when that is refused. Absent outside
   * a rotation (preflight, doctor): then nothing has changed yet.
   */
  readonly rotating?: (key: string) => string | undefined;
}

/** See {@link TargetContext.shared}. */
export type SharedMemo = Map<string, unknown>;

/**
 * Closes what a phase's targets left in its memo (values with a `close()` method, e.g. connection
 * pools), best effort, and empties it.
 *
 * @example
 * const shared: SharedMemo = new Map();
 * try { await Promise.all(targets.map((t) => t.checkCurrent({ ...ctx, shared }, cur))); }
 * finally { await closeShared(shared); }
 */
export async function closeShared(shared: SharedMemo): Promise<void> {
  const values = [...shared.values()];
  shared.clear();
  await Promise.all(
    values.map(async (v) => {
      const close = (v as { close?: unknown } | null)?.close;
      if (typeof close === 'function') await Promise.resolve(close.call(v)).catch(() => {});
    }),
  );
}

/**
 * Durable notes a target keeps in the journal about what it did, for what a later step (a revert run
 * by `rekey recover`, in another process) cannot read back from the service: for example whether a
 * config file may still hold the new password. Names and values are words, never a secret.
 *
 * @example
 * await ctx.facts?.record({ disk: 'new' }); // journaled (fsynced) before it resolves
 * ctx.facts?.get('disk'); // 'new'
 */
export interface TargetFacts {
  get(name: string): string | undefined;
  /** Merges `facts` into the journal and writes it before resolving. */
  record(facts: Readonly<Record<string, string>>): Promise<void>;
}

/** A row of the validation table. */
export interface CheckResult {
  readonly name: string;
  readonly target?: string;
  readonly ok: boolean;
  /** What was seen, one line, no secret. */
  readonly detail: string;
  readonly expected?: string;
  readonly ms?: number;
}

/**
 * One line of the eviction report of a compromise rotation ("what an attacker could still use"):
 * a foothold rekey removed, found and left (reported), checked and found none (clean), or could not
 * check (the text says why). Names only: never a secret, a hash or a token.
 *
 * @example
 * { service: 'Redis 127.0.0.1:6379 (REDIS_PASSWORD)', foothold: 'connections', status: 'removed',
 *   text: '2 connections of user default opened before the old passwords were removed: closed' }
 */
export interface EvictionFinding {
  readonly service: string;
  /** What could let an attacker back in: passwords, connections, sessions, tokens, users. */
  readonly foothold: 'passwords' | 'connections' | 'sessions' | 'tokens' | 'users';
  readonly status: 'removed' | 'reported' | 'clean' | 'unchecked';
  readonly text: string;
}

/**
 * A known service trap a plan note reports, for `rekey doctor` to turn into its finding (the rule,
 * the why and the fix are the doctor's; the note's text says what was seen, never a value).
 */
export type ServiceTrap =
  /** A PostgreSQL role has VALID UNTIL: `at` is when its password stops working. */
  | 'password-expiry'
  /** `password_encryption` is not scram-sha-256 (md5 hashes are weak; a future PostgreSQL refuses them). */
  | 'password-encryption'
  /** An alternating login role owns objects the other login role cannot use. */
  | 'objects-owned-by-login-role'
  /** A Redis user with nopass: any password, or none, is accepted. */
  | 'no-password'
  /** A Redis password change does not survive a restart (no config file, no aclfile). */
  | 'not-persistable'
  /** The service accepts a well-known default login (postgres/postgres). */
  | 'default-password';

/** A line `rekey plan` shows for a target: an action it will take, or a warning. */
export interface PlanNote {
  readonly level: 'info' | 'warn';
  readonly text: string;
  /** The known trap this note reports, if any (read by `rekey doctor`). */
  readonly trap?: ServiceTrap;
  /** For `password-expiry`: when (ISO 8601, or PostgreSQL's text of the timestamp). */
  readonly at?: string;
}

/** What the rotation will do with a target, for the plan; no I/O. */
export interface TargetDescription {
  /** True when the service talks to nothing outside the env file (jwt, api-key, generic). */
  readonly fileOnly: boolean;
  /**
   * True when the old credential stays valid while the new one is staged (Redis dual passwords,
   * alternating Postgres roles, file-held values). False targets are staged last, right before commit.
   */
  readonly overlap: boolean;
  /** Whether `finish` retires the old credential (so verify may check it is rejected afterwards). */
  readonly retiresOld: boolean;
  readonly actions: readonly string[];
}

export interface Target {
  /** The primary env key (the secret's `key`). */
  readonly key: string;
  readonly type: string;
  /** Every env key the target reads and writes at commit (key, previousKey, userKey, …). */
  readonly keys: readonly string[];
  /** Keys whose values are secret (registered with the redactor); a subset of, or beside, `keys`. */
  readonly secretKeys: readonly string[];

  describe(trigger: Trigger): TargetDescription;

  /** Read-only look at the live service for `plan` (persistence mode, expiry, roles to create). */
  inspect(ctx: TargetContext, cur: Values): Promise<PlanNote[]>;

  /**
   * For `rekey doctor` only: tries the service's well-known default logins (postgres/postgres), where
   * a failed login locks nothing (never Grafana, which locks an account after failed logins). Notes
   * with trap `default-password` for the ones accepted. Changes nothing.
   */
  probeDefaults?(ctx: TargetContext, cur: Values): Promise<PlanNote[]>;

  /** Throws ERR_TARGET_AUTH / ERR_TARGET_UNREACHABLE unless the service accepts `cur`. Changes nothing. */
  checkCurrent(ctx: TargetContext, cur: Values): Promise<void>;

  /** New values for `keys`, from `cur` (pure apart from the CSPRNG). */
  generate(ctx: TargetContext, cur: Values): Values;

  /** Makes `next` valid, beside `cur` where the service allows it. Idempotent. */
  stage(ctx: TargetContext, cur: Values, next: Values): Promise<void>;

  /** Proves `next` works on a NEW connection. Changes nothing. */
  test(ctx: TargetContext, next: Values): Promise<void>;

  /** After the deploy (for example: terminate sessions of a retired role on compromise). Idempotent. */
  afterDeploy?(ctx: TargetContext, cur: Values, next: Values): Promise<void>;

  /** Rows for the validation table: `next` accepted; `cur` rejected when `retired` and it differs. */
  verify(ctx: TargetContext, next: Values, previous?: Values, retired?: boolean): Promise<CheckResult[]>;

  /** Retires `cur` and persists the service's configuration. Idempotent. */
  finish(ctx: TargetContext, cur: Values, next: Values): Promise<void>;

  /** Makes `cur` valid again and `next` invalid. Idempotent; must work whatever stage did or not. */
  revert(ctx: TargetContext, cur: Values, next: Values): Promise<void>;

  /**
   * What this target's compromise rotation evicted or found (after `finish` with trigger compromise);
   * empty or absent when it has nothing to say. Read by the engine for the eviction report.
   */
  evictions?(): readonly EvictionFinding[];

  /**
   * Read-only look for what an attacker could still use now (`rekey verify --trigger compromise`,
   * and `recover` when the finish ran in another process): extra passwords, unknown users or roles,
   * connections, sessions, tokens. Changes nothing; "could not check" is a finding with the reason.
   */
  checkFootholds?(ctx: TargetContext, cur: Values): Promise<readonly EvictionFinding[]>;

  /** Releases connections. */
  close?(): Promise<void>;
}

/** Session invalidation, as the engine sees it: described for the plan, run after the deploy. */
export interface SessionInvalidator {
  /** The triggers it purges on (`sessions.redis.on`); on every trigger when absent. */
  readonly on?: readonly Trigger[];
  /** One line for the plan, e.g. `purge session:* on redis 127.0.0.1:6379 db 0 (SCAN + UNLINK)`. */
  describe(): string;
  /** Purges; `env` holds the env file's values after commit. Returns a summary (counts, no secret). */
  invalidate(ctx: TargetContext, env: ReadonlyMap<string, string>): Promise<string>;
}

/** One run of the deploy (or rollback) command, as the engine asks for it. */
export interface DeployRequest {
  /** The env file's values now (the command is given only the configured `passEnv` ones). */
  readonly env: ReadonlyMap<string, string>;
  /** Variables the engine adds for the command (REKEY_PHASE, REKEY_ROTATION_ID); they win over `env`. */
  readonly extraEnv: Readonly<Record<string, string>>;
  /** Env keys whose values are secret: kept out of the command's environment, redacted from its output. */
  readonly secretKeys: readonly string[];
  /** Where the command's redacted output is kept. */
  readonly logFile: string;
  /**
   * Called with the command's process group once it exists, before the command may start (the engine
   * journals it, so `recover` can wait for or end a command a killed rekey left running). The command
   * starts only when this resolves; if it throws, the command never starts and the error is thrown.
   */
  readonly started: (pgid: number) => Promise<void>;
}

/**
 * The deploy and rollback commands (src/deploy/deployer.ts is the shell-command implementation). The
 * engine is given one only when a deploy is configured.
 */
export interface Deployer {
  /** The deploy command, for the plan and the step's title. */
  readonly command: string;
  /** The rollback command (the deploy command when none is configured). */
  readonly rollbackCommand: string;
  /** How long a run may take before it is ended (journaled with the running command). */
  readonly timeoutMs: number;
  /** The deploy step's title in the plan; `run \`<command>\`` when absent. */
  readonly title?: string;
  /**
   * Preflight (changes nothing): throws when the deploy could not run, naming what is missing (a
   * permission, a workload). Absent: nothing to check before running (a shell command).
   */
  check?(): Promise<void>;
  /**
   * Runs the deploy or the rollback command and resolves with how long it took; throws
   * ERR_DEPLOY_TIMEOUT or ERR_DEPLOY_FAILED with where its output is kept and its last lines.
   * A deployer without a process of its own (Kubernetes rollouts) never calls `request.started`.
   */
  run(
    label: 'deploy' | 'rollback',
    request: DeployRequest,
  ): Promise<{
    readonly ms: number;
    /** What the step's result line adds (Kubernetes: which workloads Reloader restarted). */
    readonly note?: string;
  }>;
}

/** A target's part of the validation table: its `verify` with these values. */
export interface TargetCheck {
  readonly target: Target;
  readonly next: Values;
  readonly previous?: Values;
  readonly retired?: boolean;
}

/**
 * The validation table (src/verify/ is the implementation): the configured HTTP and login checks,
 * then each target's own rows. Its settings (checks, deadline, attempts) are captured when it is made.
 */
export interface Verifier {
  /** How many configured checks it runs besides the targets' rows (for the plan). */
  readonly checks: number;
  /** The rows in table order; never throws (a check that errors is a failed row). */
  verify(
    ctx: TargetContext,
    env: ReadonlyMap<string, string>,
    targets: readonly TargetCheck[],
  ): Promise<CheckResult[]>;
}

/**
 * One managed value a rotation writes to the store: its key, its value, and, for stores with a layout
 * (the env file), the key it is placed after when the key is new (the secret's primary key).
 */
export interface StoreChange {
  readonly key: string;
  readonly value: string;
  readonly after?: string;
}

/**
 * What a store journals about one rotation (written before any service learns a new value): its own
 * handles — the env file's real path, backup path and hashes; a Vault version; SSM parameter
 * versions; a Secrets Manager VersionId. Plain JSON, never a value. `type` names the store.
 */
export type StoreRecord = { readonly type: string } & Readonly<Record<string, unknown>>;

/** What the store holds now, as read at preflight. */
export interface StoreSnapshot {
  /** Every value the app reads from the store (the env file: all of its keys). */
  readonly values: ReadonlyMap<string, string>;
  /** Opaque: lets `prepare` tell that nothing changed since this read (the env file: path and bytes' hash). */
  readonly version: string;
}

/** The outcome of {@link Store.prepare}: the record to journal, and where the old values are kept. */
export interface PreparedCommit {
  readonly record: StoreRecord;
  /** A local file holding the old values (the env file's backup), archived by governance; absent for remote stores. */
  readonly backupFile?: string;
  /** One line for the progress, e.g. `backup .env.production.bak-20261204-120000` or `Vault version 7 kept`. */
  readonly summary: string;
}

/** Where a store stands against a rotation's values: all old, all new, some of each (SSM), or edited. */
export type StorePosition = 'old' | 'new' | 'partial' | 'other';

/**
 * Wraps the one write of a commit or restore (the engine's Ctrl-C guard: a write is never cut short).
 * `what` names it for the user: `writing the env file`, `restoring the env file`.
 */
export type StoreWriteGuard = <T>(what: string, write: () => Promise<T>) => Promise<T>;

/**
 * Where the app reads its secrets (the env file is the first implementation, src/stores/env-file/;
 * managed stores follow). The engine reads it, prepares a commit (a durable copy of the old values)
 * before any service learns a new value, commits with compare-and-set, and restores on rollback.
 * Every write is idempotent and may run again after a crash, in another process, from the record.
 */
export interface Store {
  /** `env-file`, `vault-kv`, `aws-ssm`, `aws-secretsmanager`. */
  readonly type: string;
  /** Where the values live, one line for the plan and messages (no secret). */
  readonly name: string;
  /** What progress lines and results call it: `env file` (`the env file holds the new values`). */
  readonly label: string;
  /** The commit and restore steps' titles: `write the env file atomically`, `restore the env file from the backup`. */
  readonly titles: { readonly commit: string; readonly restore: string };
  /**
   * Read-only checks of the store itself, before it is read (env file: not tracked by git, a folder
   * only its owner can write; Vault: a KV v2 mount the token can read and write).
   */
  check(): Promise<void>;
  /**
   * Read-only look for `rekey plan` at what else acts on the store (a Kubernetes Secret watched by
   * Stakater Reloader): warnings join the plan's. Optional; changes nothing.
   */
  inspect?(): Promise<readonly PlanNote[]>;
  read(): Promise<StoreSnapshot>;
  /** Throws unless a rotation of `keys` can be written over `snapshot` (env file: each key set once). No I/O. */
  checkKeys(snapshot: StoreSnapshot, keys: readonly string[]): void;
  /** Removes what interrupted writes left behind (temp files); under the stack's lock. Returns how many. */
  cleanUp?(): Promise<number>;
  /**
   * Throws (nothing changed) unless the store still holds what `snapshot` read; keeps the old values
   * durably (env file: the backup) and returns the record to journal. Changes nothing the app reads.
   */
  prepare(snapshot: StoreSnapshot, changes: readonly StoreChange[], at: Date): Promise<PreparedCommit>;
  /**
   * Writes `changes` only if the store still holds the old values (compare-and-set); says
   * `already committed` when it holds the new ones. Returns an updated record when it learnt new
   * handles (the version it wrote), which the engine journals.
   */
  commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard?: StoreWriteGuard,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }>;
  /** Compares what the store holds with the rotation's old and new values (recover decides from it). */
  position(record: StoreRecord, old: Values, next: Values): Promise<StorePosition>;
  /**
   * Puts the old values back when the store holds the new ones, or some of them (no-op when it holds
   * the old); refuses (ERR_*_CHANGED) when it holds something else. A no-op because another writer
   * won the compare-and-set (none of the rotation's values is there) says so in `held`, the line the
   * result, its output and the audit log show for the store instead of "old values".
   */
  restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
    guard?: StoreWriteGuard,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord; readonly held?: string }>;
  /** Where the old values are kept, for messages: `backup at /srv/app/.env.production.backup-…`. */
  kept(record: StoreRecord): string;
  /**
   * The values a finished rotation replaced, read from the store's own history (a Vault version, SSM
   * parameter versions, a Secrets Manager version): what `rekey rollback` returns to on a store that
   * keeps no backup file. `record` is the rotation's record as archived in the journal history,
   * `keys` the keys it wrote, `began` when it began (clock skew allowed for): a version written later
   * is not one it replaced (the secret was deleted and re-created since, its version numbers starting
   * again). Changes
   * nothing. Throws ERR_BACKUP_NOT_FOUND, saying what to do, when the history no longer holds them
   * (pruned, deleted). Absent on the env file (its backups serve).
   *
   * @example
   * await store.previous?.({ type: 'vault-kv', version: 3, written: 4, ... }, ['JWT_SECRET'], began); // { JWT_SECRET: '…' }
   */
  previous?(record: StoreRecord, keys: readonly string[], began: Date): Promise<Values>;
  /**
   * The error `recover` reports when {@link position} is `other` (someone else wrote the store while
   * the rotation was pending): what happened, and how to put the old values back by hand.
   */
  conflict(record: StoreRecord): RekeyError;
  /**
   * Undefined when a journal's record is of this store; else one line naming whose it is, after
   * "belongs to" (`the env file /srv/a/.env, not /srv/b/.env`): recover refuses another stack's journal.
   */
  owner(record: StoreRecord): Promise<string | undefined>;
}

/**
 * A lock shared by every machine that may rotate the stack, beside the state directory's lock file
 * (which only sees this disk): a Kubernetes Lease for a stack whose store is a Kubernetes Secret, so
 * two pods, each with its own disk, never rotate at once. Taken after the lock file, kept alive by the
 * adapter (renewed) while the run goes on, released at the end.
 *
 * @example
 * await deps.stackLock?.acquire(); // ERR_LOCKED naming the holder
 * try { ...; if (deps.stackLock?.lost()) stop at the next safe point and roll back } finally { await deps.stackLock?.release(); }
 */
export interface StackLock {
  /** What it is, one line for messages: `Lease bi/rekey-bi-secrets`. */
  readonly name: string;
  /**
   * Takes it, or throws ERR_LOCKED naming its holder. A holder that stopped renewing without releasing
   * it (a killed run) is refused with ERR_LOCK_STALE once its claim expired, or taken over with
   * `takeOverStale` (`rekey recover`, as for the lock file): the result names it.
   */
  acquire(options?: { readonly takeOverStale?: boolean }): Promise<{ readonly tookOverFrom?: string }>;
  /**
   * Why the lock is no longer ours (taken over, or not renewed in time), undefined while it is: a run
   * must not go on unlocked, so the engine stops at its next safe point and rolls back.
   */
  lost(): RekeyError | undefined;
  /** Stops renewing and gives it up when it is still ours. Never throws for a lock already lost. */
  release(): Promise<void>;
}
