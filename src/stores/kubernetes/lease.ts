/**
 * The lock across rekey pods: a coordination.k8s.io/v1 Lease, taken and renewed with the
 * resourceVersion compare-and-set (after client-go's leader election), so two CronJob pods never
 * rotate the same stack at once. The local lock file cannot do this: each pod has its own disk.
 *
 * A Lease is held while `renewTime + leaseDurationSeconds` is in the future; a holder that died
 * stops renewing and its Lease may be taken over once that has passed. Every write carries the
 * resourceVersion just read: of two pods racing for the same Lease, the API server lets one win and
 * answers 409 to the other, which then refuses (ERR_LOCKED) naming the holder.
 */
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { RekeyError } from '../../lib/errors.js';
import { isStatus, type Kube, kubeError, withRetry } from '../../lib/kube.js';

export interface LeaseLockOptions {
  readonly namespace: string;
  /** The Lease's name (one per stack, e.g. `rekey-bi-production`). */
  readonly name: string;
  /** Who holds it: unique per process (the pod's name and the pid). */
  readonly identity: string;
  /** How long a holder that stopped renewing keeps it (default 60 s). */
  readonly durationSeconds?: number;
  /** The clock (tests). */
  readonly now?: () => Date;
}

/**
 * @example
 * const lock = new LeaseLock(connectKube(), { namespace: 'bi', name: 'rekey-bi', identity: `${os.hostname()}/${process.pid}` });
 * await lock.acquire(); // ERR_LOCKED when another pod holds it
 * try { ... await lock.renew(); ... } finally { await lock.release(); }
 */
export class LeaseLock {
  private readonly duration: number;
  private readonly now: () => Date;

  constructor(
    private readonly kube: Kube,
    private readonly options: LeaseLockOptions,
  ) {
    this.duration = options.durationSeconds ?? 60;
    this.now = options.now ?? (() => new Date());
  }

  private get where(): string {
    return `Lease ${this.options.namespace}/${this.options.name}`;
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await withRetry(this.kube, () =>
        this.kube.coordination.readNamespacedLease({
          name: this.options.name,
          namespace: this.options.namespace,
        }),
      );
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw kubeError(e, `reading ${this.where}`);
    }
  }

  /** When the holder's claim ends (ms), or 0 when nobody holds it. */
  private expiry(lease: V1Lease): number {
    const spec = lease.spec ?? {};
    if (!spec.holderIdentity) return 0;
    const renewed = Date.parse(String(spec.renewTime ?? spec.acquireTime ?? ''));
    if (Number.isNaN(renewed)) return 0;
    return renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000;
  }

  private held(lease: V1Lease): RekeyError {
    const until = new Date(this.expiry(lease)).toISOString();
    return new RekeyError(
      'ERR_LOCKED',
      `another rekey (${lease.spec?.holderIdentity ?? 'unknown'}) holds ${this.where} until ${until} unless it renews`,
      {
        hint: 'Another pod is rotating this stack: wait for it. If it died, its Lease can be taken once it has expired; run again then.',
      },
    );
  }

  private spec(transitions: number, acquired?: string) {
    const now = new V1MicroTime(this.now().getTime());
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.duration,
      acquireTime: acquired === undefined ? now : (acquired as unknown as V1MicroTime),
      renewTime: now,
      leaseTransitions: transitions,
    };
  }

  private stale(lease: V1Lease): RekeyError {
    const until = new Date(this.expiry(lease)).toISOString();
    return new RekeyError(
      'ERR_LOCK_STALE',
      `a rekey (${lease.spec?.holderIdentity ?? 'unknown'}) stopped renewing ${this.where} without releasing it (expired ${until}): it was killed or lost the API server mid-run`,
      {
        hint: 'Run `rekey recover` (where that run kept its state directory, if it was another pod): it finishes or undoes the interrupted rotation and takes the Lease over.',
      },
    );
  }

  /**
   * Takes the Lease, or throws ERR_LOCKED naming its holder. Taking it again when held by us renews it.
   * A Lease its holder stopped renewing without releasing it (killed mid-run) is taken over once
   * expired, or, with `stale: 'refuse'`, refused with ERR_LOCK_STALE (only `rekey recover` takes it).
   * Resolves with the identity taken over from, if any.
   */
  async acquire(options: { stale?: 'take' | 'refuse' } = {}): Promise<{ tookOverFrom?: string }> {
    const lease = await this.read();
    if (lease === undefined) {
      try {
        await this.kube.coordination.createNamespacedLease({
          namespace: this.options.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: this.spec(0),
          },
        });
        return {};
      } catch (e) {
        if (!isStatus(e, 409)) throw kubeError(e, `creating ${this.where}`);
        // Another pod created it first: it holds it.
        const theirs = await this.read();
        throw theirs === undefined ? kubeError(e, `creating ${this.where}`) : this.held(theirs);
      }
    }
    const holder = lease.spec?.holderIdentity;
    if (holder === this.options.identity) {
      await this.renew(lease);
      return {};
    }
    if (holder && this.expiry(lease) > this.now().getTime()) throw this.held(lease);
    if (holder && options.stale === 'refuse') throw this.stale(lease);
    // Free, or its holder stopped renewing: take it over at the resourceVersion just read.
    await this.replace(lease, this.spec((lease.spec?.leaseTransitions ?? 0) + 1));
    return holder ? { tookOverFrom: holder } : {};
  }

  /**
   * Who holds the Lease now, read-only (`rekey status`): `held` (a holder whose claim runs until
   * `expires`), `expired` (a holder that stopped renewing: a killed run, for `rekey recover`) or `free`.
   *
   * @example
   * await lock.look(); // { state: 'held', holder: 'pod-a/17', expires: '2026-12-05T03:20:00.000Z' }
   */
  async look(): Promise<{ state: 'free' | 'held' | 'expired'; holder?: string; expires?: string }> {
    const lease = await this.read();
    const holder = lease?.spec?.holderIdentity;
    if (lease === undefined || !holder) return { state: 'free' };
    const until = this.expiry(lease);
    return {
      state: until > this.now().getTime() ? 'held' : 'expired',
      holder,
      ...(until === 0 ? {} : { expires: new Date(until).toISOString() }),
    };
  }

  /** Extends our claim; throws ERR_LOCKED when the Lease is no longer ours (it expired and was taken). */
  async renew(known?: V1Lease): Promise<void> {
    const lease = known ?? (await this.read());
    if (lease === undefined || lease.spec?.holderIdentity !== this.options.identity)
      throw new RekeyError('ERR_LOCKED', `rekey no longer holds ${this.where}: another pod took it over`, {
        hint: 'The rotation must stop: another rekey now owns this stack. Check `rekey status` once it is done.',
      });
    await this.replace(
      lease,
      this.spec(lease.spec?.leaseTransitions ?? 0, lease.spec?.acquireTime as unknown as string | undefined),
    );
  }

  /** Gives the Lease up when it is still ours (nothing when it is not). */
  async release(): Promise<void> {
    const lease = await this.read();
    if (lease === undefined || lease.spec?.holderIdentity !== this.options.identity) return;
    try {
      await this.replace(lease, {
        leaseDurationSeconds: 1,
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      });
    } catch (e) {
      // Taken over meanwhile: no longer ours to release.
      if (!(e instanceof RekeyError && e.code === 'ERR_LOCKED')) throw e;
    }
  }

  private async replace(lease: V1Lease, spec: V1Lease['spec']): Promise<void> {
    try {
      await this.kube.coordination.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.options.name,
            namespace: this.options.namespace,
            resourceVersion: lease.metadata?.resourceVersion ?? '',
          },
          ...(spec === undefined ? {} : { spec }),
        },
      });
    } catch (e) {
      if (!isStatus(e, 409)) throw kubeError(e, `writing ${this.where}`);
      // Someone wrote it since we read it: whoever did holds it now.
      const theirs = await this.read();
      if (theirs?.spec?.holderIdentity && theirs.spec.holderIdentity !== this.options.identity)
        throw this.held(theirs);
      throw new RekeyError('ERR_LOCKED', `${this.where} changed while rekey was taking it`, {
        hint: 'Another rekey raced for it: run again.',
      });
    }
  }
}
