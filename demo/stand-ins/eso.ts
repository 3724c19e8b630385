/**
 * A fake External Secrets Operator for the Kubernetes API stand-in (demo/stand-ins/kubernetes.ts),
 * opt-in, written from ESO's documentation (read, not copied): https://external-secrets.io
 * "ExternalSecret" (API page) and the FAQ ("Can I manually trigger a secret refresh?" — any change of
 * an annotation such as `force-sync` makes the controller reconcile; "How do I know when my secret
 * was last synced?" — `status.refreshTime`; the `Ready` condition, reason `SecretSynced` or
 * `SecretSyncedError`). On a reconcile it reads the source (a function the test gives, e.g. the Vault
 * stand-in's current data at a path), replaces the target Secret's data with it (creationPolicy
 * Owner), and sets `status.refreshTime` (seconds), `status.syncedResourceVersion` (generation and a
 * hash of labels and annotations) and Ready. Injectable: `never` (no reconcile at all) and `error`
 * (Ready False / SecretSyncedError, the Secret untouched).
 * Simplifications: dataFrom-extract of one source only, no refreshInterval, no templates, no watch.
 */
import { createHash } from 'node:crypto';

export type EsoMode = 'sync' | 'never' | 'error';

export interface EsoOptions {
  readonly mode: EsoMode;
  /** How long after the annotation change the controller acts (default 200 ms). */
  readonly delayMs?: number;
  /** The source's values now (plain strings): what the Secret is given. */
  readonly source: () => Promise<Record<string, string>>;
}

/**
 * A source reading a Vault KV v2 secret over its HTTP API (the Vault stand-in, or Vault), as ESO's
 * Vault provider does: `GET /v1/<mount>/data/<path>` with the token, `data.data`.
 *
 * @example
 * vaultSource({ url: vault.url, token: 't', mount: 'secret', path: 'bi/production' });
 */
export function vaultSource(v: {
  url: string;
  token: string;
  mount: string;
  path: string;
}): () => Promise<Record<string, string>> {
  return async () => {
    const r = await fetch(`${v.url}/v1/${v.mount}/data/${v.path}`, { headers: { 'x-vault-token': v.token } });
    if (!r.ok) throw new Error(`vault source: HTTP ${r.status}`);
    const body = (await r.json()) as { data?: { data?: Record<string, unknown> } };
    return Object.fromEntries(Object.entries(body.data?.data ?? {}).map(([k, v]) => [k, String(v)]));
  };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};

/** ESO's `syncedResourceVersion`: the generation and a hash of the labels and annotations. */
export function syncedResourceVersion(es: Json): string {
  const meta = obj(es.metadata);
  const hash = createHash('md5')
    .update(JSON.stringify([meta.labels ?? {}, meta.annotations ?? {}]))
    .digest('hex');
  return `${String(meta.generation ?? 1)}-${hash}`;
}

/** RFC 3339 in seconds, as metav1.Time serialises. */
export const metaTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** The status the controller writes after a reconcile: synced, or SecretSyncedError. */
export function esoStatus(es: Json, ok: boolean, now: number): Json {
  const before = obj(es.status);
  const ready = (Array.isArray(before.conditions) ? before.conditions.map(obj) : []).find(
    (c) => c.type === 'Ready',
  );
  const status = ok ? 'True' : 'False';
  const transition = ready?.status === status ? String(ready.lastTransitionTime) : metaTime(now);
  return {
    ...before,
    ...(ok ? { refreshTime: metaTime(now), syncedResourceVersion: syncedResourceVersion(es) } : {}),
    conditions: [
      {
        type: 'Ready',
        status,
        reason: ok ? 'SecretSynced' : 'SecretSyncedError',
        message: ok ? 'secret synced' : 'could not get secret data from provider',
        lastTransitionTime: transition,
      },
    ],
  };
}
