/**
 * The stack lock of a stack whose store is a Kubernetes Secret: its {@link LeaseLock}, held for the
 * whole run and renewed on a timer (every third of the Lease's duration, after client-go's leader
 * election). The engine asks {@link LeaseStackLock.lost} at each safe point: once the Lease was taken
 * over, or could not be renewed for two thirds of its duration (so the run stops before another pod
 * may take it), the run stops and rolls back; it never goes on unlocked.
 */
import type { StackLock } from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import type { Kube } from '../../lib/kube.js';
import { safeMessage } from '../../lib/redact.js';
import { LeaseLock } from './lease.js';

/** The default Lease duration: a killed run's Lease is free (to `rekey recover`) this long after. */
export const DEFAULT_LEASE_SECONDS = 60;

export interface LeaseStackLockOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly durationSeconds?: number;
  /** The clock (tests). */
  readonly now?: () => Date;
}

/**
 * @example
 * const lock = new LeaseStackLock(connectKube(), { namespace: 'bi', name: 'rekey-bi-secrets', identity: 'pod-a/17' });
 * await lock.acquire(); // ERR_LOCKED naming the holder; ERR_LOCK_STALE for a killed run's (recover: { takeOverStale: true })
 * lock.lost();          // undefined while renewed
 * await lock.release();
 */
export class LeaseStackLock implements StackLock {
  readonly name: string;
  private readonly lease: LeaseLock;
  private readonly durationMs: number;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private renewedAt = 0;
  private lostWith: RekeyError | undefined;
  private lastError: string | undefined;

  constructor(kube: Kube, options: LeaseStackLockOptions) {
    const seconds = options.durationSeconds ?? DEFAULT_LEASE_SECONDS;
    this.durationMs = seconds * 1000;
    this.now = options.now ?? (() => new Date());
    this.name = `Lease ${options.namespace}/${options.name}`;
    this.lease = new LeaseLock(kube, {
      namespace: options.namespace,
      name: options.name,
      identity: options.identity,
      durationSeconds: seconds,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  async acquire(options: { readonly takeOverStale?: boolean } = {}): Promise<{ tookOverFrom?: string }> {
    const taken = await this.lease.acquire({ stale: options.takeOverStale ? 'take' : 'refuse' });
    this.renewedAt = this.now().getTime();
    this.lostWith = undefined;
    this.timer = setInterval(() => void this.renewOnce(), Math.max(50, Math.floor(this.durationMs / 3)));
    this.timer.unref();
    return taken;
  }

  /** One renewal (never two at once); a refusal (taken over) loses the lock at once. */
  renewOnce(): Promise<void> {
    if (this.renewing !== undefined || this.lostWith !== undefined) return this.renewing ?? Promise.resolve();
    this.renewing = this.lease
      .renew()
      .then(() => {
        this.renewedAt = this.now().getTime();
        this.lastError = undefined;
      })
      .catch((e) => {
        if (e instanceof RekeyError && e.code === 'ERR_LOCKED') this.lostWith = e;
        else this.lastError = safeMessage(e);
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  lost(): RekeyError | undefined {
    if (this.timer === undefined && this.lostWith === undefined) return undefined;
    if (this.lostWith !== undefined) return this.lostWith;
    const since = this.now().getTime() - this.renewedAt;
    // Past two thirds of the duration another pod may soon take it: stop before that can happen.
    if (since > (this.durationMs * 2) / 3) {
      this.lostWith = new RekeyError(
        'ERR_LOCKED',
        `rekey could not renew the ${this.name} for ${Math.round(since / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}: another pod may take it over`,
        {
          hint: 'The run stopped and rolled back rather than go on unlocked. Check the API server, then run again.',
        },
      );
    }
    return this.lostWith;
  }

  async release(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    // A lock lost to another pod is not ours to release (LeaseLock.release checks the holder).
    await this.lease.release();
  }
}
