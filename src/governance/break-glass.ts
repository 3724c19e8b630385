/**
 * `--break-glass "reason"` with `--trigger compromise` (or on `rekey rollback`): the rotation proceeds without approvals; the
 * audit log records it, and (with `approvals:` configured) a change request is created for it and
 * claimed, to be approved by the required roles after the fact.
 */
import os from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { JournalMeta } from '../engine/journal.js';
import type { Plan } from '../engine/plan.js';
import { RekeyError } from '../lib/errors.js';
import { createRequest } from './approvals/create.js';
import { claimRequest, newRequestId } from './approvals/request.js';
import { appendAudit } from './audit/append.js';
import { auditPaths } from './audit/read.js';
import { fingerprintSecrets } from './audit/secrets.js';
import { breakGlassIdentity, identityName } from './break-glass-identity.js';
import { changeControlWarning, type GovernanceOptions } from './options.js';
import { ticketOf } from './record.js';

/**
 * Records a break-glass rotation before it starts.
 *
 * @example
 * await breakGlass(loaded, plan, { breakGlass: 'key in a public gist', requestId }, options, new Date(), log.warn);
 */
export async function breakGlass(
  loaded: LoadedConfig,
  plan: Plan,
  meta: JournalMeta,
  options: GovernanceOptions,
  now: Date,
  warn: (m: string) => void,
): Promise<void> {
  const reason = String(meta.breakGlass);
  // A rollback returns to values that were in use: break-glass needs no compromise to justify it.
  const trigger = options.command === 'rollback' ? 'rollback' : plan.trigger;
  if (trigger !== 'compromise' && trigger !== 'rollback') {
    throw new RekeyError(
      'ERR_BREAK_GLASS_TRIGGER',
      `--break-glass needs --trigger compromise (not ${plan.trigger})`,
    );
  }
  const approvals = loaded.config.approvals;
  if (approvals?.breakGlass === false) {
    throw new RekeyError(
      'ERR_APPROVAL_MISSING',
      'break-glass is switched off for this stack (approvals.breakGlass: false); nothing was changed',
      { hint: 'Get the approvals with `rekey request` and `rekey approve`, then rotate with --request.' },
    );
  }
  // Who breaks glass: the principal of the --key signature over this stack and rotation, or the OS
  // user (recorded as such; never `--operator`, which is only a note).
  const by = await breakGlassIdentity(
    loaded,
    { id: breakGlassIdOf(meta), command: options.command === 'rollback' ? 'rollback' : 'rotate', reason },
    typeof meta.breakGlassSignature === 'string' ? meta.breakGlassSignature : undefined,
  );
  if (approvals === undefined) {
    await appendAudit(auditPaths(loaded), {
      time: now.toISOString(),
      kind: 'break-glass',
      trigger,
      ...ticketOf(meta),
      operator: options.operator,
      breakGlass: reason,
      breakGlassBy: by,
      secrets: await fingerprintSecrets(loaded, plan.keys),
      outcome: 'recorded',
    });
    warn(changeControlWarning(loaded)!);
    return;
  }
  const id = typeof meta.requestId === 'string' ? meta.requestId : newRequestId(now);
  await createRequest(loaded, {
    id,
    keys: plan.keys,
    trigger,
    requester: identityName(by),
    breakGlassBy: by,
    ...(typeof meta.ticket === 'string' ? { ticket: meta.ticket } : {}),
    reason,
    breakGlass: reason,
    now,
  });
  await claimRequest(loaded, id, {
    time: now.toISOString(),
    operator: options.operator,
    host: os.hostname(),
  });
  warn(
    `break-glass: rotating without approvals; change request ${id} records it and needs the approval of ${approvals.require.join(' and ')} after the fact (\`rekey approve ${id} --role ROLE\`)`,
  );
}

/** The id the operator's break-glass statement names: the request id, else the break-glass id. */
export function breakGlassIdOf(meta: JournalMeta): string {
  if (typeof meta.breakGlassId === 'string') return meta.breakGlassId;
  return typeof meta.requestId === 'string' ? meta.requestId : '';
}
