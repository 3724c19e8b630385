/**
 * `--break-glass "reason"` with `--trigger compromise` (or on `rekey rollback`): the rotation proceeds without approvals; the
 * audit log records it, and (with `approvals:` configured) a change request is created for it and
 * claimed, to be approved by the required roles after the fact.
 */
import os from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { RekeyError } from '../core/errors.js';
import type { JournalMeta } from '../core/journal.js';
import type { Plan } from '../core/plan.js';
import { createRequest } from './approvals/create.js';
import { claimRequest, newRequestId } from './approvals/request.js';
import { appendAudit } from './audit/append.js';
import { auditPaths } from './audit/read.js';
import { fingerprintSecrets } from './audit/secrets.js';
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
  if (approvals === undefined) {
    await appendAudit(auditPaths(loaded), {
      time: now.toISOString(),
      kind: 'break-glass',
      trigger,
      ...ticketOf(meta),
      operator: options.operator,
      breakGlass: reason,
      secrets: await fingerprintSecrets(loaded, plan.keys),
      outcome: 'recorded',
    });
    warn(changeControlWarning(loaded)!);
    return;
  }
  if (approvals.breakGlass === false) {
    throw new RekeyError(
      'ERR_APPROVAL_MISSING',
      'break-glass is switched off for this stack (approvals.breakGlass: false); nothing was changed',
      { hint: 'Get the approvals with `rekey request` and `rekey approve`, then rotate with --request.' },
    );
  }
  if (approvals.breakGlass !== undefined) {
    // The OS account running rekey, not a name anyone types (--operator is only a label).
    const user = osUser();
    if (!approvals.breakGlass.allowed.includes(user)) {
      throw new RekeyError(
        'ERR_APPROVAL_MISSING',
        `break-glass is allowed only to ${approvals.breakGlass.allowed.join(', ')} (approvals.breakGlass.allowed), not to the OS user ${user}; nothing was changed`,
        { hint: 'Run it as one of those users, or get the approvals with `rekey request`.' },
      );
    }
  }
  const id = typeof meta.requestId === 'string' ? meta.requestId : newRequestId(now);
  await createRequest(loaded, {
    id,
    keys: plan.keys,
    trigger,
    requester: options.operator,
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

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
