/**
 * The stack lock the commands take beside the state directory's lock file (src/engine/ports.ts
 * StackLock): for a stack whose store is a Kubernetes Secret, a coordination.k8s.io/v1 Lease in the
 * Secret's namespace, so two pods (each with its own disk) never rotate the Secret at once. Other
 * stores take none: their machines share the state directory, or the store's compare-and-set guards.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { KubernetesStoreConfig } from '../config/store.js';
import type { StackLock } from '../engine/ports.js';
import { parseDuration } from '../lib/duration.js';

/**
 * The Lease's name: `lease.name`, else `rekey-<Secret name>` (one per Secret: two configs of the
 * same Secret share it), hashed when that would pass the 253 characters of an object name.
 *
 * @example
 * leaseName({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' }); // 'rekey-bi-secrets'
 */
export function leaseName(store: KubernetesStoreConfig): string {
  if (store.lease?.name !== undefined) return store.lease.name;
  const name = `rekey-${store.name}`;
  if (name.length <= 253) return name;
  return `rekey-${createHash('sha256').update(store.name).digest('hex').slice(0, 32)}`;
}

/**
 * The stack's lock across machines, or undefined when its store needs none. Makes no call: the
 * Lease is read when a command takes it. Its holder is named `<host>/<pid>` (in a pod: its name).
 *
 * @example
 * const stackLock = await stackLockFor(loaded); // LeaseStackLock for `store: { type: kubernetes }`
 */
export async function stackLockFor(loaded: LoadedConfig): Promise<StackLock | undefined> {
  const store = loaded.config.store;
  if (store?.type !== 'kubernetes') return undefined;
  return leaseLockFor(store);
}

/**
 * The Lease of a Kubernetes Secret store (`rekey migrate --to kubernetes` takes it before the
 * Secret is in rekey.yaml). Makes no call.
 *
 * @example
 * const lease = await leaseLockFor({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' });
 */
export async function leaseLockFor(store: KubernetesStoreConfig): Promise<StackLock> {
  const { connectKube } = await import('../lib/kube.js');
  const { LeaseStackLock } = await import('../stores/kubernetes/stack-lock.js');
  const duration = store.lease?.duration === undefined ? undefined : parseDuration(store.lease.duration);
  return new LeaseStackLock(connectKube(store.context === undefined ? {} : { context: store.context }), {
    namespace: store.namespace,
    name: leaseName(store),
    identity: `${os.hostname()}/${process.pid}`,
    ...(duration === undefined ? {} : { durationSeconds: Math.round(duration / 1000) }),
  });
}

/** The stack's Lease as `rekey status` shows it (`--json`: `lock`). */
export interface LeaseStatus {
  readonly type: 'lease';
  /** `bi/rekey-bi-secrets`. */
  readonly name: string;
  /** `held` until `expires`; `expired`: its holder stopped renewing (a killed run: `rekey recover`); `free`; `unknown`: not readable (`error`). */
  readonly state: 'free' | 'held' | 'expired' | 'unknown';
  readonly holder?: string;
  readonly expires?: string;
  readonly error?: string;
}

/**
 * Who holds the stack's Lease (a stack whose store is a Kubernetes Secret), read-only; undefined for
 * other stores. Never throws: an unreadable Lease is `unknown` with the reason.
 *
 * @example
 * await leaseStatus(loaded); // { type: 'lease', name: 'bi/rekey-bi-secrets', state: 'held', holder: 'pod-a/17', expires: '…' }
 */
export async function leaseStatus(loaded: LoadedConfig): Promise<LeaseStatus | undefined> {
  const store = loaded.config.store;
  if (store?.type !== 'kubernetes') return undefined;
  const name = `${store.namespace}/${leaseName(store)}`;
  try {
    const { connectKube } = await import('../lib/kube.js');
    const { LeaseLock } = await import('../stores/kubernetes/lease.js');
    const duration = store.lease?.duration === undefined ? undefined : parseDuration(store.lease.duration);
    const lock = new LeaseLock(connectKube(store.context === undefined ? {} : { context: store.context }), {
      namespace: store.namespace,
      name: leaseName(store),
      identity: `${os.hostname()}/${process.pid}`,
      ...(duration === undefined ? {} : { durationSeconds: Math.round(duration / 1000) }),
    });
    return { type: 'lease', name, ...(await lock.look()) };
  } catch (e) {
    const { safeMessage } = await import('../lib/redact.js');
    return { type: 'lease', name, state: 'unknown', error: safeMessage(e) };
  }
}

/**
 * The status line for the Lease.
 *
 * @example
 * leaseLine(s); // 'lock: Lease bi/rekey-bi-secrets held by pod-a/17 until 2026-12-05T03:20:00.000Z'
 */
export function leaseLine(s: LeaseStatus): string {
  const where = `lock: Lease ${s.name}`;
  switch (s.state) {
    case 'free':
      return `${where} free`;
    case 'held':
      return `${where} held by ${s.holder ?? 'unknown'} until ${s.expires ?? '?'} unless it renews`;
    case 'expired':
      return `${where} held by ${s.holder ?? 'unknown'}, expired ${s.expires ?? '?'} (it stopped renewing: \`rekey recover\` takes it over)`;
    case 'unknown':
      return `${where} unknown (${s.error ?? 'not readable'})`;
  }
}
