/**
 * The rotation plan, in pure code: from the configured secrets (as their targets describe themselves),
 * the trigger and `--only`, the ordered list of steps the engine will execute. Reads nothing, writes
 * nothing (STYLE.md 2).
 */
import type { Trigger } from '../config/schema.js';
import { RekeyError } from '../lib/errors.js';

export const PHASES = [
  'prepare',
  'stage',
  'test',
  'commit',
  'deploy',
  'invalidate',
  'verify',
  'finish',
] as const;
export type Phase = (typeof PHASES)[number];

/** The phases of a rollback's steps (journaled beside the plan's). */
export type RollbackPhase = 'revert' | 'restore' | 'rollback-deploy' | 'verify-old';

/**
 * A step as the engine handles it: its phase and the target (env key) it acts on. `id` is its name
 * for humans, the journal and the crash points (`phase` or `phase:KEY`, unique in a run); code reads
 * `phase` and `target`, never the id. An `invalidate` step without a target is the session purge.
 */
export interface StepRef {
  readonly id: string;
  readonly phase: Phase | RollbackPhase;
  readonly target?: string;
}

export interface Step extends StepRef {
  readonly phase: Phase;
  readonly title: string;
}

/**
 * A step of the rollback, named as the journal names it.
 *
 * @example
 * rollbackStep('revert', 'REDIS_PASSWORD'); // { id: 'revert:REDIS_PASSWORD', phase: 'revert', target: 'REDIS_PASSWORD' }
 */
export function rollbackStep(phase: RollbackPhase, target?: string): StepRef {
  return target === undefined ? { id: phase, phase } : { id: `${phase}:${target}`, phase, target };
}

export interface PlanSecret {
  readonly key: string;
  readonly type: string;
  readonly overlap: boolean;
  readonly fileOnly: boolean;
  readonly hasAfterDeploy: boolean;
  readonly actions: readonly string[];
  /**
   * Keys whose values it reads but does not write (an `admin`'s `passwordKey`). When another secret
   * of the rotation writes one of them, this secret's steps of each phase come before that one's.
   */
  readonly reads?: readonly string[];
}

export interface PlanInput {
  /** Every configured secret, in config order. */
  readonly secrets: readonly PlanSecret[];
  readonly trigger: Trigger;
  readonly only?: readonly string[];
  /** With `--trigger personnel`, honour `--only` anyway. */
  readonly force?: boolean;
  /** The deploy: its command, and its step title when not `run \`<command>\`` (Kubernetes rollouts). */
  readonly deploy?: { readonly command: string; readonly title?: string };
  /** The session purge the config asks for, described, or undefined when none is configured. */
  readonly sessions?: { readonly describe: string; readonly on?: readonly Trigger[] };
  readonly verifyChecks: number;
  /** The store's words for the prepare and commit steps (`Store.label`, `Store.titles.commit`); the env file's when absent. */
  readonly store?: { readonly label: string; readonly commitTitle: string };
}

export interface Plan {
  readonly trigger: Trigger;
  /** The keys rotated, in config order. */
  readonly keys: readonly string[];
  readonly steps: readonly Step[];
  readonly purgeSessions: boolean;
  readonly warnings: readonly string[];
}

/**
 * Builds the ordered steps of a rotation.
 *
 * Overlap targets (the old credential stays valid) are staged and tested first; single-credential
 * targets (the old one stops working the moment the new is set) last, each tested right after, just
 * before the env file is committed, to keep the window where the env file and service disagree short.
 *
 * @example
 * buildPlan({ secrets, trigger: 'scheduled', verifyChecks: 1 }).steps.map((s) => s.id);
 * // ['prepare', 'stage:JWT_SECRET', 'test:JWT_SECRET', 'stage:POSTGRES_PASSWORD', ..., 'commit', ...]
 */
export function buildPlan(input: PlanInput): Plan {
  const warnings: string[] = [];
  const selected = selectSecrets(input, warnings);
  const ordered = readersFirst(selected);
  const early = ordered.filter((s) => s.overlap);
  const late = ordered.filter((s) => !s.overlap);

  const steps: Step[] = [
    {
      id: 'prepare',
      phase: 'prepare',
      title: `generate new values, back up the ${input.store?.label ?? 'env file'}, write the journal`,
    },
  ];
  for (const s of early) steps.push(step('stage', s, 'make the new value valid beside the old'));
  for (const s of early) steps.push(step('test', s, 'new value works on a new connection'));
  for (const s of late) {
    steps.push(step('stage', s, 'set the new value (the old stops working now)'));
    steps.push(step('test', s, 'new value works on a new connection'));
  }
  steps.push({
    id: 'commit',
    phase: 'commit',
    title: input.store?.commitTitle ?? 'write the env file atomically',
  });
  steps.push({
    id: 'deploy',
    phase: 'deploy',
    title: input.deploy
      ? (input.deploy.title ?? `run \`${input.deploy.command}\``)
      : 'no deploy command configured (skipped)',
  });
  for (const s of ordered.filter((x) => x.hasAfterDeploy)) {
    steps.push(
      step(
        'invalidate',
        s,
        input.trigger === 'compromise' ? 'end sessions of the old credential' : 'after-deploy checks',
      ),
    );
  }
  const purgeSessions =
    input.sessions !== undefined &&
    (input.trigger === 'compromise' ||
      input.sessions.on === undefined ||
      input.sessions.on.includes(input.trigger));
  if (input.sessions !== undefined) {
    steps.push({
      id: 'invalidate:sessions',
      phase: 'invalidate',
      title: purgeSessions
        ? input.sessions.describe
        : `sessions kept (purge not configured for ${input.trigger})`,
    });
  } else if (input.trigger === 'compromise') {
    warnings.push('trigger compromise but no `sessions` configured: existing sessions stay valid');
  }
  steps.push({
    id: 'verify',
    phase: 'verify',
    title: `validation table (${input.verifyChecks} configured check${input.verifyChecks === 1 ? '' : 's'} + each target)`,
  });
  for (const s of ordered) steps.push(step('finish', s, 'retire the old value, persist the service config'));
  if (!input.deploy && selected.some((s) => !s.fileOnly)) {
    warnings.push('no deploy command: consumers of the env file keep their old values until restarted');
  }
  return { trigger: input.trigger, keys: selected.map((s) => s.key), steps, purgeSessions, warnings };
}

/**
 * The secrets in config order, except that a secret whose key another one reads (an admin password
 * that is itself rotated) comes after every secret reading it: their steps of a phase (stage, the
 * after-deploy step, finish) use the admin password while it is still the one they know, before its
 * own step retires the old value (the engine also runs them in separate batches, see batchesOf).
 * Readers of readers go further up; a cycle keeps config order.
 *
 * @example
 * readersFirst([{ key: 'PG_ADMIN_PASSWORD', ... }, { key: 'APP_PASSWORD', reads: ['PG_ADMIN_PASSWORD'], ... }]);
 * // APP_PASSWORD, then PG_ADMIN_PASSWORD
 */
export function readersFirst(secrets: readonly PlanSecret[]): PlanSecret[] {
  const readers = (key: string) => secrets.filter((r) => r.key !== key && r.reads?.includes(key));
  const depth = new Map<string, number>();
  const depthOf = (s: PlanSecret, seen: ReadonlySet<string>): number => {
    const known = depth.get(s.key);
    if (known !== undefined) return known;
    let d = 0;
    for (const r of readers(s.key))
      if (!seen.has(r.key)) d = Math.max(d, 1 + depthOf(r, new Set([...seen, s.key])));
    depth.set(s.key, d);
    return d;
  };
  return secrets
    .map((s, i) => ({ s, i, d: depthOf(s, new Set([s.key])) }))
    .sort((a, b) => a.d - b.d || a.i - b.i)
    .map(({ s }) => s);
}

function step(phase: Phase, s: PlanSecret, title: string): Step {
  return { id: `${phase}:${s.key}`, phase, target: s.key, title };
}

function selectSecrets(input: PlanInput, warnings: string[]): PlanSecret[] {
  if (input.only === undefined || input.only.length === 0) return [...input.secrets];
  const known = new Set(input.secrets.map((s) => s.key));
  const unknown = input.only.filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new RekeyError(
      'ERR_ONLY_UNKNOWN',
      `--only names unknown key${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
    );
  }
  if (input.trigger === 'personnel' && !input.force) {
    warnings.push('trigger personnel rotates every secret; --only ignored (add --force to honour it)');
    return [...input.secrets];
  }
  const only = new Set(input.only);
  return input.secrets.filter((s) => only.has(s.key));
}
