/**
 * The notifications of commands that rotate nothing: `overdue` from `rekey check` (and each
 * `rekey schedule` run), `approval-requested` from `rekey request`. Bounded in time; a failed
 * delivery is a warning on stderr.
 */
import type { LoadedConfig } from '../config/load.js';
import type { ChangeRequest } from '../governance/approvals/index.js';
import { log } from '../lib/log.js';
import { createNotifier } from '../notify/index.js';
import type { SecretStatus } from '../policy/types.js';

const DAY = 86_400_000;

/**
 * Sends `overdue` naming every overdue secret (nothing when none is).
 *
 * @example
 * await notifyOverdue(loaded, report.secrets);
 */
export async function notifyOverdue(
  loaded: LoadedConfig,
  secrets: readonly SecretStatus[],
  warn: (message: string) => void = (m) => log.warn(m),
): Promise<void> {
  const overdue = secrets.filter((s) => s.overdue);
  if (overdue.length === 0 || !loaded.config.notify?.length) return;
  await createNotifier(loaded, { warn }).send({
    event: 'overdue',
    overdue: overdue.map((s) => ({
      key: s.key,
      type: s.type,
      ...(s.ageMs !== undefined ? { ageDays: Math.floor(s.ageMs / DAY) } : {}),
      maxAgeDays: Math.round(s.maxAgeMs / DAY),
      ...(s.dueAt ? { dueAt: s.dueAt } : {}),
    })),
  });
}

/** How often `rekey schedule` (running as a service) repeats `overdue` for the same secret. */
export const OVERDUE_REPEAT_MS = 12 * 3_600_000;

/**
 * `rekey schedule`'s `overdue`: the overdue secrets it will not rotate itself (not `unattended: true`),
 * each at most once per {@link OVERDUE_REPEAT_MS} in this process (its status is read several times a
 * run; `--once` from a daily timer sends them every day).
 *
 * @example
 * const overdue = overdueNotices(loaded, (m) => logger.warn(m));
 * await overdue(report.secrets);
 */
export function overdueNotices(
  loaded: LoadedConfig,
  warn: (message: string) => void,
  now: () => number = Date.now,
): (secrets: readonly SecretStatus[]) => Promise<void> {
  const sent = new Map<string, number>();
  return async (secrets) => {
    const t = now();
    const due = secrets.filter(
      (s) =>
        s.overdue && !s.unattended && t - (sent.get(s.key) ?? Number.NEGATIVE_INFINITY) >= OVERDUE_REPEAT_MS,
    );
    for (const s of due) sent.set(s.key, t);
    await notifyOverdue(loaded, due, warn);
  };
}

/**
 * Sends `approval-requested` for a new change request.
 *
 * @example
 * await notifyRequested(loaded, request);
 */
export async function notifyRequested(loaded: LoadedConfig, request: ChangeRequest): Promise<void> {
  if (!loaded.config.notify?.length) return;
  await createNotifier(loaded, { warn: (m) => log.warn(m) }).send({
    event: 'approval-requested',
    request: {
      id: request.id,
      keys: request.keys,
      trigger: request.trigger,
      ...(request.ticket ? { ticket: request.ticket } : {}),
      requestedBy: request.requester,
      require: loaded.config.approvals?.require ?? [],
      expiresAt: request.expires,
    },
  });
}
