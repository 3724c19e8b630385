/**
 * The engine's governance hooks (`RotationHooks`): `authorize` is the change-control gate (signed
 * request, break-glass, or a warning that change control is off), `completed` archives the backup and
 * writes the audit record of a run that stops without closing its journal (needs attention), and
 * `beforeClose` the record of one that ended (rotated, rolled back) before its journal is closed.
 * Built per command by {@link governanceHooks}; `rotate` gets its meta and
 * hooks from {@link governRotation}, which checks the options before anything is asked or changed.
 */
import type { LoadedConfig } from '../config/load.js';
import type { Trigger } from '../config/schema.js';
import { claimStackState } from '../config/stack-state.js';
import { type RecordedTrigger, recordedTrigger } from '../config/triggers.js';
import type { JournalMeta } from '../engine/journal.js';
import type { Plan } from '../engine/plan.js';
import type { RotationHooks } from '../engine/run.js';
import { RekeyError } from '../lib/errors.js';
import { log } from '../lib/log.js';
import { safeMessage } from '../lib/redact.js';
import { authorizeRequest } from './approvals/authorize.js';
import { newRequestId, noteRotation, releaseRequest } from './approvals/request.js';
import { returnToFingerprint } from './approvals/return-to.js';
import { summarizeAttachments } from './attachments/index.js';
import { appendAudit } from './audit/append.js';
import { auditPaths, hasClosingRecord } from './audit/read.js';
import { breakGlass } from './break-glass.js';
import { newBreakGlassId, signBreakGlass } from './break-glass-identity.js';
import { operatorIdentity } from './identity.js';
import { changeControlWarning, type GovernanceOptions } from './options.js';
import { archiveAfter, completedRecord, type Granted, ticketOf } from './record.js';

/**
 * Hooks for one command. `rotate` and `rollback` are gated alike: a rollback changes live credentials
 * too, so where rotations need approvals it needs a request with trigger `rollback` (or
 * `--break-glass`). `recover` is not gated (it finishes or undoes what was already authorized) but is
 * audited like them.
 *
 * @example
 * const hooks = governanceHooks(deps.loaded, { command: 'rollback', operator: 'alice@example.com' });
 * await rotate({ ...deps, hooks }, request);
 */
export function governanceHooks(loaded: LoadedConfig, options: GovernanceOptions): RotationHooks {
  const warn = options.warn ?? ((m: string) => log.warn(m));
  const now = options.now ?? (() => new Date());
  const granted: Granted = {};
  /** Rotations whose record `beforeClose` wrote (or left pending): `completed` skips them. */
  const closing = new Set<string>();

  /** Records a refusal in the audit log and returns the error to throw. */
  const refused = async (plan: Plan, meta: JournalMeta, err: RekeyError): Promise<RekeyError> => {
    await appendAudit(auditPaths(loaded), {
      kind: options.command === 'rollback' ? 'rollback' : 'rotate',
      trigger: recordedTrigger({ trigger: plan.trigger, meta }),
      ...ticketOf(meta),
      operator: options.operator,
      ...(typeof meta.requestId === 'string' ? { requestId: meta.requestId } : {}),
      outcome: 'refused',
      ...(options.attachments?.length ? { attachments: options.attachments } : {}),
      error: { code: err.code, message: err.message },
    }).catch((e) => warn(`audit record of the refusal not written: ${safeMessage(e)}`));
    return err;
  };

  return {
    async authorize({ plan, meta }) {
      if (options.command === 'recover') return;
      await claimStackState(loaded);
      const rollback = options.command === 'rollback';
      // The trigger a request must name: the rotation's, or `rollback`.
      const trigger = rollback ? 'rollback' : plan.trigger;
      const approvals = loaded.config.approvals;
      if (typeof meta.breakGlass === 'string') {
        await breakGlass(loaded, plan, meta, options, now(), warn);
        return;
      }
      if (approvals === undefined) {
        warn(changeControlWarning(loaded)!);
        return;
      }
      if (
        !rollback &&
        options.unattended &&
        plan.keys.every((k) => loaded.config.secrets.find((s) => s.key === k)?.unattended)
      ) {
        granted.standing = true;
        return;
      }
      if (typeof meta.requestId !== 'string') {
        throw await refused(
          plan,
          meta,
          new RekeyError(
            'ERR_APPROVAL_MISSING',
            `this stack needs the approval of ${approvals.require.join(' and ')} before a ${rollback ? 'rollback' : 'rotation'}; nothing was changed`,
            {
              hint: `Create a request (\`rekey request --trigger ${trigger} ${rollback ? '--backup FILE' : `--only ${plan.keys.join(',')}`} --ticket ID\`), have it approved with \`rekey approve\`, then \`rekey ${rollback ? 'rollback --backup FILE' : 'rotate'} --request ID\`${rollback ? ' (or, in an emergency, `rekey rollback --break-glass "reason"`)' : ''}.`,
            },
          ),
        );
      }
      try {
        const r = await authorizeRequest(loaded, meta.requestId, {
          keys: plan.keys,
          trigger,
          ...(typeof meta.ticket === 'string' ? { ticket: meta.ticket } : {}),
          operator: options.operator,
          now: now(),
          ...(rollback
            ? {
                returnTo: options.returnTo
                  ? {
                      what: options.returnTo.what,
                      fingerprint: await returnToFingerprint(loaded, options.returnTo.written),
                    }
                  : { what: 'values not given to the change-control check', fingerprint: '' },
              }
            : {}),
        });
        granted.approvals = r.approvals;
        if (r.requestedBy) granted.requestedBy = r.requestedBy;
        granted.requestId = r.request.id;
        if (r.request.ticket) granted.ticket = r.request.ticket;
      } catch (e) {
        if (
          e instanceof RekeyError &&
          (e.code === 'ERR_APPROVAL_MISSING' || e.code === 'ERR_APPROVAL_INVALID')
        ) {
          throw await refused(plan, meta, e);
        }
        throw e;
      }
    },

    async notStarted(error) {
      // The request was claimed by authorize, but the rotation never began: give it back, so the
      // same command can run again without new approvals.
      if (granted.requestId === undefined) return;
      const id = granted.requestId;
      granted.requestId = undefined;
      await releaseRequest(loaded, id).then(
        () => warn(`change request ${id} is still unused (${safeMessage(error)}): run the command again`),
        (e) => warn(`change request ${id} could not be given back: ${safeMessage(e)}`),
      );
    },

    async beforeClose(result, journal) {
      // The journal is kept until this returns: a failure here is exit 4, and `recover` calls it
      // again (after a crash too), so it appends only when the log does not hold this record yet.
      closing.add(result.id);
      await claimStackState(loaded).catch((e) => warn(safeMessage(e)));
      const paths = auditPaths(loaded);
      try {
        if (await hasClosingRecord(paths.file, result.id, result.outcome)) return;
        const backup = await archiveAfter(loaded, result, warn);
        const record = await completedRecord(loaded, options, granted, result, journal, backup);
        await appendAudit(paths, record);
      } catch (e) {
        throw new RekeyError(
          'ERR_AUDIT_WRITE',
          `the audit record of ${result.kind} ${result.id} (${result.outcome}) could not be written: ${safeMessage(e)}; the record is pending`,
        );
      }
      const requestId = granted.requestId ?? journal.meta.requestId;
      if (typeof requestId === 'string') {
        await noteRotation(loaded, requestId, result.id).catch(() => {});
      }
    },

    async completed(result, journal) {
      // Written (or pending, exit 4) by beforeClose.
      if (closing.has(result.id)) return;
      await claimStackState(loaded).catch((e) => warn(safeMessage(e)));
      try {
        const backup = await archiveAfter(loaded, result, warn);
        const record = await completedRecord(loaded, options, granted, result, journal, backup);
        await appendAudit(auditPaths(loaded), record);
        const requestId = granted.requestId ?? journal.meta.requestId;
        if (typeof requestId === 'string') {
          await noteRotation(loaded, requestId, result.id).catch(() => {});
        }
      } catch (e) {
        warn(`the audit record of ${result.id} was NOT written: ${safeMessage(e)}`);
      }
    },
  };
}

export interface RotateGovernanceInput {
  readonly trigger: Trigger;
  /** The trigger to record when it is not `trigger`: `manual` for a hand rotation without `--trigger`. */
  readonly recordedTrigger?: RecordedTrigger;
  readonly request?: string;
  readonly breakGlass?: string;
  /** With breakGlass: the operator's SSH key, to sign the break-glass statement. */
  readonly key?: string;
  readonly operator?: string;
  readonly ticket?: string;
  readonly attach?: readonly string[];
  readonly unattended?: boolean;
  readonly warn?: (message: string) => void;
}

/**
 * Checks `rotate`'s change-control options before anything is asked or changed, resolves the
 * operator, summarises the attachments, and returns the journal meta and the hooks of the rotation.
 *
 * @example
 * const { meta, hooks } = await governRotation(deps.loaded, { trigger: 'compromise', breakGlass: 'key leaked' });
 * await rotate({ ...deps, hooks }, { trigger: 'compromise', meta });
 */
export async function governRotation(
  loaded: LoadedConfig,
  input: RotateGovernanceInput,
): Promise<{ meta: JournalMeta; hooks: RotationHooks; operator: string }> {
  if (input.breakGlass !== undefined) {
    if (input.breakGlass.trim() === '') {
      throw new RekeyError('ERR_USAGE', '--break-glass needs a reason (it is recorded in the audit log)');
    }
    if (input.trigger !== 'compromise') {
      throw new RekeyError(
        'ERR_BREAK_GLASS_TRIGGER',
        `--break-glass needs --trigger compromise (not ${input.trigger}); nothing was changed`,
      );
    }
    if (input.request !== undefined) {
      throw new RekeyError('ERR_USAGE', '--break-glass and --request exclude each other');
    }
  }
  if (input.request !== undefined && loaded.config.approvals === undefined) {
    throw new RekeyError('ERR_APPROVALS_OFF', '--request given, but rekey.yaml has no approvals section');
  }
  const operator = await operatorIdentity(loaded.dir, input.operator);
  const attachments = await summarizeAttachments(input.attach ?? []);
  const glass = await breakGlassMeta(loaded, 'rotate', input);
  const meta: JournalMeta = {
    operator,
    ...(input.recordedTrigger && input.recordedTrigger !== input.trigger
      ? { recordedTrigger: input.recordedTrigger }
      : {}),
    ...(input.ticket ? { ticket: input.ticket } : {}),
    ...(input.request ? { requestId: input.request } : {}),
    ...glass,
    ...(input.attach?.length ? { attachments: attachments.map((a) => a.path) } : {}),
    ...(input.unattended ? { unattended: true } : {}),
  };
  const hooks = governanceHooks(loaded, {
    command: 'rotate',
    operator,
    attachments,
    ...(input.unattended ? { unattended: true } : {}),
    ...(input.warn ? { warn: input.warn } : {}),
  });
  return { meta, hooks, operator };
}

export interface RollbackGovernanceInput {
  readonly request?: string;
  readonly breakGlass?: string;
  /** With breakGlass: the operator's SSH key, to sign the break-glass statement. */
  readonly key?: string;
  readonly operator?: string;
  readonly ticket?: string;
  readonly warn?: (message: string) => void;
  /** What the rollback returns to (src/backups/rollback-source.ts `RollbackPlan.written`, the source's name). */
  readonly returnTo?: { readonly written: ReadonlyMap<string, string>; readonly what: string };
}

/**
 * Checks `rollback`'s change-control options before anything is asked or changed; returns the journal
 * meta (trigger recorded as `rollback`) and the hooks, which require an approved request with trigger
 * `rollback` where rotations need approvals (or `--break-glass`, approved after the fact).
 *
 * @example
 * const { meta, hooks } = await governRollback(deps.loaded, { request: 'req-20261125-3fa2c1' });
 * await rotate({ ...deps, hooks }, { trigger: 'scheduled', fixedValues, meta: { ...meta, rollbackFrom } });
 */
export async function governRollback(
  loaded: LoadedConfig,
  input: RollbackGovernanceInput,
): Promise<{ meta: JournalMeta; hooks: RotationHooks; operator: string }> {
  if (input.breakGlass !== undefined && input.breakGlass.trim() === '') {
    throw new RekeyError('ERR_USAGE', '--break-glass needs a reason (it is recorded in the audit log)');
  }
  if (input.breakGlass !== undefined && input.request !== undefined) {
    throw new RekeyError('ERR_USAGE', '--break-glass and --request exclude each other');
  }
  if (input.request !== undefined && loaded.config.approvals === undefined) {
    throw new RekeyError('ERR_APPROVALS_OFF', '--request given, but rekey.yaml has no approvals section');
  }
  const operator = await operatorIdentity(loaded.dir, input.operator);
  const meta: JournalMeta = {
    operator,
    recordedTrigger: 'rollback',
    ...(input.ticket ? { ticket: input.ticket } : {}),
    ...(input.request ? { requestId: input.request } : {}),
    ...(await breakGlassMeta(loaded, 'rollback', input)),
  };
  const hooks = governanceHooks(loaded, {
    command: 'rollback',
    operator,
    ...(input.warn ? { warn: input.warn } : {}),
    ...(input.returnTo ? { returnTo: input.returnTo } : {}),
  });
  return { meta, hooks, operator };
}

/**
 * The journal meta of `--break-glass`: the reason, the id naming this rotation (the after-the-fact
 * request's id where approvals are configured), and with `--key` the operator's signature over the
 * break-glass statement (made here, before anything is asked or changed; checked by `authorize`).
 */
async function breakGlassMeta(
  loaded: LoadedConfig,
  command: 'rotate' | 'rollback',
  input: { breakGlass?: string; key?: string },
): Promise<JournalMeta> {
  if (input.breakGlass === undefined) {
    if (input.key !== undefined) {
      throw new RekeyError('ERR_USAGE', '--key signs a break-glass statement: it needs --break-glass', {
        hint: 'Drop --key, or add --break-glass "reason" (approvers sign with `rekey approve --key`).',
      });
    }
    return {};
  }
  const reason = input.breakGlass.trim();
  const id = loaded.config.approvals !== undefined ? newRequestId(new Date()) : newBreakGlassId();
  const signature =
    input.key !== undefined ? await signBreakGlass(loaded, input.key, { id, command, reason }) : undefined;
  return {
    ...(loaded.config.approvals !== undefined ? { requestId: id } : {}),
    breakGlassId: id,
    breakGlass: reason,
    ...(signature ? { breakGlassSignature: signature } : {}),
  };
}

export { changeControlWarning, type GovernanceOptions } from './options.js';
