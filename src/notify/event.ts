/**
 * What a webhook is told: one event document (names, ids and outcomes; never a value, never a hash
 * of one), and its Slack form. The document is the body of a `json` webhook, byte for byte what is
 * signed.
 */
import type { NotifyEventName } from '../config/notify.js';

/** The rotation an event is about (started, completed, rolled-back, needs-attention). */
export interface RotationFacts {
  readonly id: string;
  /** `rotate`, `rollback` or `recover`. */
  readonly kind: string;
  readonly trigger?: string;
  /** Key names only. */
  readonly keys: readonly string[];
  /** `rotated`, `rolled-back`, `needs-attention`; absent for `started`. */
  readonly outcome?: string;
  /** The step that failed (`deploy`, `verify`, `stage:POSTGRES_PASSWORD`), when one did. */
  readonly failedStep?: string;
  /** The error code of the failure, when one did (never its message). */
  readonly errorCode?: string;
  readonly operator?: string;
  readonly ticket?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
}

/** A secret past its max age (`overdue`). */
export interface OverdueFacts {
  readonly key: string;
  readonly type: string;
  readonly ageDays?: number;
  readonly maxAgeDays: number;
  readonly dueAt?: string;
}

/** A change request waiting for approvals (`approval-requested`). */
export interface RequestFacts {
  readonly id: string;
  readonly keys: readonly string[];
  readonly trigger: string;
  readonly ticket?: string;
  readonly requestedBy?: string;
  readonly require: readonly string[];
  readonly expiresAt?: string;
}

export interface NotifyEvent {
  /** Event document version. */
  readonly version: 1;
  /** Unique per event; every attempt of a delivery carries it (`X-Rekey-Delivery`). */
  readonly id: string;
  readonly event: NotifyEventName;
  readonly stack: string;
  /** When the event happened (ISO 8601, UTC). */
  readonly time: string;
  readonly rotation?: RotationFacts;
  readonly overdue?: readonly OverdueFacts[];
  readonly request?: RequestFacts;
}

/**
 * The one-line text of an event, for Slack (`{ "text": … }`).
 *
 * @example
 * slackText(event); // 'rekey: rotation 20261204T… of bi-api rolled back (deploy failed: ERR_DEPLOY_FAILED)…'
 */
export function slackText(e: NotifyEvent): string {
  // Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as entities: a ticket or an
  // operator name must not add either, so the three are escaped as Slack documents.
  return plainText(e).replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

function plainText(e: NotifyEvent): string {
  const r = e.rotation;
  const who = r?.operator ? ` by ${r.operator}` : '';
  const ticket = r?.ticket ? `, ticket ${r.ticket}` : '';
  const keys = r ? ` (${r.keys.join(', ')}, trigger ${r.trigger ?? 'manual'})` : '';
  switch (e.event) {
    case 'started':
      return `rekey: ${r?.kind ?? 'rotation'} ${r?.id ?? ''} of ${e.stack} started${keys}${who}${ticket}`;
    case 'completed':
      return `rekey: ${r?.kind ?? 'rotation'} ${r?.id ?? ''} of ${e.stack} completed${keys}${who}${ticket}`;
    case 'rolled-back':
      return `rekey: ${r?.kind ?? 'rotation'} ${r?.id ?? ''} of ${e.stack} ROLLED BACK${keys}: ${r?.failedStep ?? 'a step'} failed (${r?.errorCode ?? 'error'})${who}${ticket}`;
    case 'needs-attention':
      return `rekey: ${r?.kind ?? 'rotation'} ${r?.id ?? ''} of ${e.stack} NEEDS ATTENTION${keys}${r?.failedStep ? `: ${r.failedStep} failed` : ''} (${r?.errorCode ?? 'error'}); run \`rekey recover\`${who}${ticket}`;
    case 'overdue':
      return `rekey: ${e.stack}: overdue ${(e.overdue ?? []).map((o) => `${o.key} (${o.ageDays ?? '?'}d, max ${o.maxAgeDays}d)`).join(', ')}`;
    case 'approval-requested': {
      const q = e.request;
      return `rekey: ${e.stack}: change request ${q?.id ?? ''} (${q?.keys.join(', ') ?? ''}, trigger ${q?.trigger ?? ''}${q?.ticket ? `, ticket ${q.ticket}` : ''}) needs the approval of ${q?.require.join(' and ') ?? ''}: rekey approve ${q?.id ?? ''} --role ROLE --key KEY`;
    }
  }
}
