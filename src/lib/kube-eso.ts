/**
 * External Secrets Operator's ExternalSecret as the kubernetes deployer uses it (written from ESO's
 * documentation, https://external-secrets.io "ExternalSecret" API page and FAQ "Can I manually
 * trigger a secret refresh?"): changing an annotation of the ExternalSecret makes the controller
 * reconcile it at once (`kubectl annotate es NAME force-sync=$(date +%s) --overwrite`); it then reads
 * the source, writes the target Secret (`spec.target.name`, default the ExternalSecret's own name),
 * sets `status.refreshTime` (RFC 3339, seconds), `status.syncedResourceVersion` (the generation and a
 * hash of the labels and annotations it synced for) and the `Ready` condition (True/`SecretSynced`,
 * or False/`SecretSyncedError`). No call is made here: the deployer reads and patches.
 */
import { createHash } from 'node:crypto';

export const ESO = {
  group: 'external-secrets.io',
  /**
   * The API versions tried, newest first: ESO serves `v1` since 0.17 and drops `v1beta1` in later
   * releases; older clusters serve `v1beta1` only. The first that answers is kept for the run.
   */
  versions: ['v1', 'v1beta1'],
  plural: 'externalsecrets',
  /** ESO's documented trigger: any change of an annotation; this is the name its FAQ uses. */
  forceSync: 'force-sync',
} as const;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};

/** The Secret an ExternalSecret writes: `spec.target.name`, or its own name. */
export function targetSecret(es: unknown): string {
  const name = obj(obj(obj(es).spec).target).name;
  return typeof name === 'string' && name !== '' ? name : String(obj(obj(es).metadata).name ?? '');
}

/** What rekey compares to know the controller synced after its force-sync. */
export interface SyncMark {
  readonly syncedResourceVersion: string;
  readonly refreshTime: string;
}

/** The Ready condition: status and reason (`SecretSynced`, `SecretSyncedError`), if any. */
export function readyOf(
  es: unknown,
): { status: string; reason: string; lastTransitionTime: string } | undefined {
  const conditions = obj(obj(es).status).conditions;
  const c = (Array.isArray(conditions) ? conditions.map(obj) : []).find((x) => x.type === 'Ready');
  if (c === undefined) return undefined;
  return {
    status: String(c.status ?? ''),
    reason: String(c.reason ?? ''),
    lastTransitionTime: String(c.lastTransitionTime ?? ''),
  };
}

export function markOf(es: unknown): SyncMark {
  const s = obj(obj(es).status);
  return {
    syncedResourceVersion: String(s.syncedResourceVersion ?? ''),
    refreshTime: String(s.refreshTime ?? ''),
  };
}

/** A hash of a Secret's data (never the data): tells a write from none. */
export function dataHash(data: Readonly<Record<string, string>> | undefined): string {
  const d = data ?? {};
  return createHash('sha256')
    .update(
      JSON.stringify(
        Object.keys(d)
          .sort()
          .map((k) => [k, d[k]]),
      ),
    )
    .digest('hex')
    .slice(0, 16);
}

/**
 * One look at the ExternalSecret after rekey set `force-sync` at `at` (ms), `before` being what its
 * status said just before: `synced` once the controller reconciled for this annotation (its
 * syncedResourceVersion changed and its refreshTime is not older than the annotation's second) and is
 * Ready; `failed` when Ready turned False/SecretSyncedError since (it was not so before); else waiting.
 *
 * @example
 * syncState(es, before, 'SecretSynced', Date.parse('2026-01-01T00:00:00.500Z')); // 'waiting'
 */
export function syncState(
  es: unknown,
  before: SyncMark,
  beforeReady: string | undefined,
  at: number,
): 'synced' | 'failed' | 'waiting' {
  const second = Math.floor(at / 1000) * 1000;
  const ready = readyOf(es);
  const now = markOf(es);
  // A SecretSyncedError already there before the annotation may be stale (ESO keeps the condition's
  // lastTransitionTime, in seconds, while the status stays the same): then only a sync or the
  // deadline ends the wait.
  if (
    ready?.status === 'False' &&
    ready.reason === 'SecretSyncedError' &&
    beforeReady !== 'SecretSyncedError'
  )
    return 'failed';
  const refreshed = Date.parse(now.refreshTime);
  if (
    ready?.status === 'True' &&
    now.syncedResourceVersion !== before.syncedResourceVersion &&
    Number.isFinite(refreshed) &&
    refreshed >= second
  )
    return 'synced';
  return 'waiting';
}
