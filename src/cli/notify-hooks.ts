/**
 * Wires notifications (src/notify/) into a command's rotation hooks: `started` once the journal is
 * written (sent beside the rotation, not waited for), and `completed` / `rolled-back` /
 * `needs-attention` after the governance hooks wrote the audit record and the journal was closed.
 * Every delivery is bounded in time and a failure is only a warning.
 */
import type { LoadedConfig } from '../config/load.js';
import { recordedTrigger } from '../config/triggers.js';
import type { Journal } from '../engine/journal.js';
import type { RotationHooks, RotationResult } from '../engine/run.js';
import { createNotifier, type NotifyEventName, type RotationFacts } from '../notify/index.js';

const EVENT_OF: Partial<Record<RotationResult['outcome'], NotifyEventName>> = {
  rotated: 'completed',
  'rolled-back': 'rolled-back',
  'needs-attention': 'needs-attention',
};

/** What the events say about a rotation: names, ids, the failed step; never a value. */
function facts(journal: Journal, result?: RotationResult): RotationFacts {
  const meta = journal.meta;
  const failed = journal.failure?.step ?? result?.steps.find((s) => s.state === 'failed')?.id;
  return {
    id: journal.id,
    kind: result?.kind ?? journal.kind,
    trigger: result?.trigger ?? recordedTrigger(journal),
    keys: result?.keys ?? journal.targets.map((t) => t.key),
    ...(result ? { outcome: result.outcome } : {}),
    ...(result && result.outcome !== 'rotated' && failed ? { failedStep: failed } : {}),
    ...(result?.error ? { errorCode: result.error.code } : {}),
    ...(typeof meta.operator === 'string' ? { operator: meta.operator } : {}),
    ...(typeof meta.ticket === 'string' ? { ticket: meta.ticket } : {}),
    startedAt: result?.startedAt ?? journal.createdAt,
    ...(result ? { endedAt: result.endedAt } : {}),
  };
}

/**
 * `hooks` with the stack's notifications added; `hooks` itself when rekey.yaml has no `notify:`.
 *
 * @example
 * const deps = { ...stack, hooks: withNotifications(stack.loaded, hooks, (m) => progress.note(`warning: ${m}`)) };
 */
export function withNotifications(
  loaded: LoadedConfig,
  hooks: RotationHooks,
  warn: (message: string) => void,
): RotationHooks {
  const notifier = createNotifier(loaded, { warn });
  if (!notifier.configured) return hooks;
  const pending: Promise<void>[] = [];
  return {
    ...hooks,
    started(journal) {
      hooks.started?.(journal);
      pending.push(notifier.send({ event: 'started', rotation: facts(journal) }));
    },
    async completed(result, journal) {
      await hooks.completed?.(result, journal);
      const event = EVENT_OF[result.outcome];
      // `started` was sent beside the rotation: wait for it (bounded) so the receiver sees it first.
      await Promise.all(pending.splice(0));
      if (event !== undefined) await notifier.send({ event, rotation: facts(journal, result) });
    },
  };
}
