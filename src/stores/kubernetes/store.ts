/**
 * The kubernetes store: one Secret (namespace, name) holds every managed key as a `data` key (base64);
 * its other keys are never touched. Commit is one JSON merge patch carrying the
 * `metadata.resourceVersion` read before the rotation, so another writer makes the API server answer
 * 409 Conflict (and the rotation roll back) instead of being overwritten. Restore writes the old data
 * back the same way (a key the rotation added is removed). Kubernetes keeps no history of a Secret:
 * the old values come from the rotation's journal; the store's record keeps only resourceVersions.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubernetesStoreConfig } from '../../config/store.js';
import type {
  PlanNote,
  PreparedCommit,
  Store,
  StoreChange,
  StorePosition,
  StoreRecord,
  StoreSnapshot,
  StoreWriteGuard,
  Values,
} from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import {
  canI,
  connectKube,
  type Kube,
  type KubeOptions,
  kubeError,
  MERGE_PATCH,
  withRetry,
} from '../../lib/kube.js';
import { externalSecretOwner, RELOADER } from '../../lib/kube-watchers.js';
import { unguarded } from '../guard.js';
import { holdsNoneOf, positionOf } from '../position.js';

/** What the journal holds for a kubernetes rotation: where, and resourceVersions; never a value. */
export interface KubernetesRecord extends StoreRecord {
  readonly type: 'kubernetes';
  readonly server: string;
  readonly namespace: string;
  readonly name: string;
  /** The resourceVersion read at preflight (the Secret holding the old values). */
  readonly resourceVersion: string;
  /** The resourceVersion the commit wrote, once known. */
  readonly written?: string;
  /** The resourceVersion the restore wrote, once known. */
  readonly restored?: string;
}

function isRecord(record: StoreRecord): record is KubernetesRecord {
  return record.type === 'kubernetes' && typeof record.resourceVersion === 'string';
}

/** The Secret's data decoded (stringData is never returned by the API server). */
function decoded(secret: V1Secret): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(secret.data ?? {}))
    out.set(k, Buffer.from(v, 'base64').toString('utf8'));
  return out;
}

const encode = (v: string) => Buffer.from(v, 'utf8').toString('base64');

/**
 * @example
 * const store = KubernetesStore.open({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets', context: 'prod' });
 * await store.check();
 * const snap = await store.read();
 */
export class KubernetesStore implements Store {
  readonly type = 'kubernetes';
  readonly label = 'Kubernetes Secret';
  readonly titles = {
    commit: 'patch the Kubernetes Secret (resourceVersion check)',
    restore: 'patch the old values back into the Kubernetes Secret (resourceVersion check)',
  };
  readonly name: string;

  private constructor(
    private readonly kube: Kube,
    private readonly namespace: string,
    private readonly secretName: string,
  ) {
    this.name = `Kubernetes Secret ${namespace}/${secretName} (${kube.context}, ${kube.server})`;
  }

  static open(config: KubernetesStoreConfig, options: Omit<KubeOptions, 'context'> = {}): KubernetesStore {
    const kube = connectKube({
      ...options,
      ...(config.context === undefined ? {} : { context: config.context }),
    });
    return new KubernetesStore(kube, config.namespace, config.name);
  }

  private get where(): string {
    return `Secret ${this.namespace}/${this.secretName}`;
  }

  /**
   * Preflight: rekey may get and patch the Secret (SelfSubjectAccessReview, each missing verb named),
   * and the Secret can be written: not immutable, not owned by External Secrets Operator (which would
   * write the source's values back over the rotation's).
   */
  async check(): Promise<void> {
    const missing: string[] = [];
    for (const verb of ['get', 'patch'])
      if (
        !(await canI(this.kube, {
          verb,
          group: '',
          resource: 'secrets',
          namespace: this.namespace,
          name: this.secretName,
        }))
      )
        missing.push(verb);
    if (missing.length > 0)
      throw new RekeyError(
        'ERR_STORE_AUTH',
        `kubernetes: rekey may not ${missing.join(' or ')} ${this.where} (SelfSubjectAccessReview)`,
        {
          hint: `Grant its Role the rule { apiGroups: [""], resources: ["secrets"], resourceNames: ["${this.secretName}"], verbs: ["get", "patch"] } in namespace ${this.namespace}.`,
        },
      );
    const s = await this.current();
    if (s.immutable === true)
      throw new RekeyError('ERR_STORE_UNSUITABLE', `kubernetes: ${this.where} is immutable`, {
        hint: 'An immutable Secret cannot be rotated in place: recreate it without `immutable: true`.',
      });
    const eso = externalSecretOwner(s.metadata);
    if (eso !== undefined)
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `kubernetes: ${this.where} is written by External Secrets Operator (ExternalSecret ${eso}), which would overwrite rekey's write with its source's values at its next refresh`,
        {
          hint: "Point `store:` at the ExternalSecret's source (vault-kv, aws-ssm, aws-secretsmanager) instead, and name the ExternalSecret in `deploy.kubernetes.externalSecret`: rekey then forces its sync after the store write.",
        },
      );
  }

  /**
   * For the plan: Stakater Reloader restarting workloads on their own when rekey writes the Secret
   * (the Secret's side: `reloader.stakater.com/match` for workloads in search mode).
   */
  async inspect(): Promise<PlanNote[]> {
    const s = await this.current();
    const notes: PlanNote[] = [];
    if (s.metadata?.annotations?.[RELOADER.match]?.trim().toLowerCase() === 'true')
      notes.push({
        level: 'warn',
        text: `${this.where} has ${RELOADER.match}: "true": Stakater Reloader restarts the workloads using it (those with ${RELOADER.search}: "true") on their own when rekey writes it; a \`deploy.kubernetes\` waits for those rollouts instead of restarting them again (the deploy step says which), a deploy command would restart them a second time`,
      });
    return notes;
  }

  private async current(): Promise<V1Secret> {
    try {
      return await withRetry(this.kube, () =>
        this.kube.core.readNamespacedSecret({ name: this.secretName, namespace: this.namespace }),
      );
    } catch (e) {
      const err = kubeError(e, `reading ${this.where}`);
      if (err.code === 'ERR_STORE_UNSUITABLE')
        throw new RekeyError('ERR_STORE_UNSUITABLE', `kubernetes: ${this.where} does not exist`, {
          hint: 'Create it (`rekey migrate --to kubernetes`, or `kubectl create secret generic`), or fix `store.namespace` / `store.name`.',
        });
      throw err;
    }
  }

  async read(): Promise<StoreSnapshot> {
    const s = await this.current();
    return { values: decoded(s), version: String(s.metadata?.resourceVersion ?? '') };
  }

  /** Data keys are unique by construction: nothing to check. */
  checkKeys(_snapshot: StoreSnapshot, _keys: readonly string[]): void {}

  async prepare(
    snapshot: StoreSnapshot,
    _changes: readonly StoreChange[],
    _at: Date,
  ): Promise<PreparedCommit> {
    const s = await this.current();
    const rv = String(s.metadata?.resourceVersion ?? '');
    if (rv !== snapshot.version)
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `kubernetes: ${this.where} changed since it was read (resourceVersion ${rv}, was ${snapshot.version})`,
      );
    const record: KubernetesRecord = {
      type: 'kubernetes',
      server: this.kube.server,
      namespace: this.namespace,
      name: this.secretName,
      resourceVersion: rv,
    };
    return { record, summary: `${this.where} at resourceVersion ${rv} (the old values are in the journal)` };
  }

  /** One merge patch: `data` for `values` (null removes a key), guarded by `resourceVersion`. */
  private async patch(
    values: Readonly<Record<string, string | null>>,
    resourceVersion: string,
  ): Promise<string> {
    const data = Object.fromEntries(
      Object.entries(values).map(([k, v]) => [k, v === null ? null : encode(v)]),
    );
    const written = await withRetry(this.kube, () =>
      this.kube.core.patchNamespacedSecret(
        { name: this.secretName, namespace: this.namespace, body: { metadata: { resourceVersion }, data } },
        MERGE_PATCH,
      ),
    );
    return String(written.metadata?.resourceVersion ?? '');
  }

  async commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }> {
    const r = this.own(record);
    const next: Values = Object.fromEntries(changes.map((c) => [c.key, c.value]));
    const done = (rv: string) => ({
      summary: `already committed (${this.where} resourceVersion ${rv})`,
      record: { ...r, written: rv },
    });
    const cur = await this.current();
    const curRv = String(cur.metadata?.resourceVersion ?? '');
    if (positionOf(decoded(cur), {}, next) === 'new') return done(curRv);
    if (curRv !== r.resourceVersion) throw this.changedSince(r, curRv);
    try {
      const written = await guard(`patching ${this.where}`, () => this.patch(next, r.resourceVersion));
      return { summary: `${this.where} patched (resourceVersion ${written})`, record: { ...r, written } };
    } catch (e) {
      // A 409, or an answer lost after the write took effect: what the Secret holds now decides.
      const err = kubeError(e, `patching ${this.where}`);
      if (err.code !== 'ERR_STORE_CONFLICT' && err.code !== 'ERR_STORE_UNREACHABLE') throw err;
      const again = await this.current();
      const rv = String(again.metadata?.resourceVersion ?? '');
      if (positionOf(decoded(again), {}, next) === 'new') return done(rv);
      throw err.code === 'ERR_STORE_CONFLICT' ? this.changedSince(r, rv) : err;
    }
  }

  private changedSince(r: KubernetesRecord, rv: string): RekeyError {
    return new RekeyError(
      'ERR_STORE_CONFLICT',
      `kubernetes: another writer changed ${this.where} during the rotation (resourceVersion ${rv}, expected ${r.resourceVersion})`,
    );
  }

  async position(record: StoreRecord, old: Values, next: Values): Promise<StorePosition> {
    this.own(record);
    const p = positionOf(decoded(await this.current()), old, next);
    return p === 'partial' ? 'other' : p; // one patch: never partly applied
  }

  async restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }> {
    const r = this.own(record);
    const oldValues: Values = Object.fromEntries(old.map((c) => [c.key, c.value]));
    for (let attempt = 0; attempt < 2; attempt++) {
      const cur = await this.current();
      const held = decoded(cur);
      const p = positionOf(held, oldValues, next);
      if (p === 'old') return { summary: `${this.where} already holds the old values` };
      // Another writer won the resourceVersion check: none of the rotation's values is there, theirs is kept.
      if (p !== 'new' && holdsNoneOf(held, next))
        return {
          summary: `${this.where} holds none of the rotation's new values: nothing put back (the other writer's kept)`,
        };
      if (p !== 'new') throw this.conflict(r);
      // Keys the rotation added (no old value) are removed; the others get their old value.
      const missing = Object.keys(next).filter((k) => !(k in oldValues));
      const values: Record<string, string | null> = { ...oldValues };
      for (const k of missing) values[k] = null;
      try {
        const restored = await guard(`restoring ${this.where}`, () =>
          this.patch(values, String(cur.metadata?.resourceVersion ?? '')),
        );
        return {
          summary: `old values patched back into ${this.where} (resourceVersion ${restored})`,
          record: { ...r, restored },
        };
      } catch (e) {
        const err = kubeError(e, `restoring ${this.where}`);
        if (err.code !== 'ERR_STORE_CONFLICT' && err.code !== 'ERR_STORE_UNREACHABLE') throw err;
        // Re-read: a lost answer (then it holds the old values), or another writer.
      }
    }
    throw this.conflict(r);
  }

  kept(record: StoreRecord): string {
    return `the rotation's journal (${this.where} held them at resourceVersion ${String(record.resourceVersion)})`;
  }

  conflict(record: StoreRecord): RekeyError {
    return new RekeyError(
      'ERR_STORE_CHANGED',
      `kubernetes: ${this.where} holds values that are neither the rotation's old nor its new ones`,
      {
        hint: `It held the old values at resourceVersion ${String(record.resourceVersion)}; find who wrote it since (\`kubectl -n ${this.namespace} get secret ${this.secretName} -o yaml\`, the API audit log) before putting values back by hand.`,
      },
    );
  }

  async owner(record: StoreRecord): Promise<string | undefined> {
    const mine = `${this.kube.server} ${this.where}`;
    if (record.type !== 'kubernetes') return `a ${record.type} store, not ${this.name}`;
    const theirs = `${String(record.server)} Secret ${String(record.namespace)}/${String(record.name)}`;
    return theirs === mine ? undefined : `${theirs}, not ${mine}`;
  }

  private own(record: StoreRecord): KubernetesRecord {
    if (!isRecord(record) || record.namespace !== this.namespace || record.name !== this.secretName)
      throw new RekeyError(
        'ERR_JOURNAL_CORRUPT',
        `kubernetes: the journal's store record is not of ${this.where}`,
      );
    return record;
  }
}
