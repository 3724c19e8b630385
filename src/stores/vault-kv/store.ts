/**
 * The vault-kv store: one KV v2 secret holds every managed key as a field (other fields untouched).
 * Commit is one write with `options.cas` = the version read before the rotation, so another writer
 * makes it fail (and the rotation roll back) instead of being overwritten. Restore writes the old
 * values back as a new version, with check-and-set too: Vault has no revert endpoint. The journal
 * keeps the version numbers (old and written), never a value; the old values stay in Vault's own
 * history, which is why the mount must keep at least 2 versions.
 */

import type { VaultKvStoreConfig } from '../../config/store.js';
import type {
  PreparedCommit,
  Store,
  StoreChange,
  StorePosition,
  StoreRecord,
  StoreSnapshot,
  StoreWriteGuard,
  Values,
} from '../../engine/ports.js';
import { isRekeyError, RekeyError } from '../../lib/errors.js';
import { unguarded } from '../guard.js';
import { holdsNoneOf, positionOf } from '../position.js';
import { type KvVersion, VaultClient } from './client.js';

/** What the journal holds for a vault-kv rotation. */
export interface VaultKvRecord extends StoreRecord {
  readonly type: 'vault-kv';
  readonly address: string;
  readonly namespace: string | null;
  readonly mount: string;
  readonly path: string;
  /** The version read at preflight: the old values. */
  readonly version: number;
  /** The version the commit wrote, once known. */
  readonly written?: number;
  /** The version the restore wrote, once known. */
  readonly restored?: number;
}

/** What rekey does with each capability it asks for on the data path (for the error's hint). */
const CAPABILITY_USE = {
  read: 'read reads the values and their old versions',
  update:
    'update writes a new version of the existing secret with check-and-set (a full overwrite: create covers only a secret that does not exist, patch only partial updates)',
  create: 'create writes the first version of a secret that does not exist yet',
} as const;

function isRecord(record: StoreRecord): record is VaultKvRecord {
  return record.type === 'vault-kv' && typeof record.version === 'number';
}

function strings(data: Readonly<Record<string, unknown>> | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(data ?? {})) if (typeof v === 'string') out.set(k, v);
  return out;
}

/**
 * @example
 * const store = await VaultKvStore.open({ type: 'vault-kv', mount: 'secret', path: 'bi/production' });
 * const snap = await store.read();
 */
export class VaultKvStore implements Store {
  readonly type = 'vault-kv';
  readonly label = 'Vault secret';
  readonly titles = {
    commit: 'write the Vault secret (check-and-set)',
    restore: 'write the old values back to Vault (check-and-set)',
  };
  readonly name: string;

  private constructor(
    private readonly client: VaultClient,
    private readonly mount: string,
    private readonly path: string,
  ) {
    this.name = `Vault ${client.describe()} ${mount}/data/${path}`;
  }

  static async open(
    config: VaultKvStoreConfig,
    options: Parameters<typeof VaultClient.connect>[1] = {},
  ): Promise<VaultKvStore> {
    const client = await VaultClient.connect(
      {
        ...(config.address === undefined ? {} : { address: config.address }),
        ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
        ...(config.tokenFile === undefined ? {} : { tokenFile: config.tokenFile }),
        ...(config.appRole === undefined ? {} : { appRole: config.appRole }),
      },
      options,
    );
    return new VaultKvStore(client, config.mount, config.path);
  }

  private get where(): string {
    return `${this.mount}/data/${this.path}`;
  }

  /** Preflight: a KV v2 mount, keeping at least 2 versions, that the token can read and write. */
  async check(_keys?: readonly string[]): Promise<void> {
    const kv = await this.client.kvVersion(this.mount);
    if (kv === undefined || kv.type !== 'kv')
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: no KV secrets engine mounted at ${this.mount}/`,
        {
          hint: `Check \`store.mount\`; enable one with \`vault secrets enable -path=${this.mount} kv-v2\`.`,
        },
      );
    if (kv.version !== '2')
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: ${this.mount}/ is KV version ${kv.version}, not 2`,
        {
          hint: `rekey needs KV v2 versions and check-and-set: \`vault kv enable-versioning ${this.mount}\`.`,
        },
      );
    await this.requireCapabilities(['read', 'update']);
    // Vault keeps the smaller of the mount's and the secret's max_versions (0: unset; default 10).
    const config = await this.client.mountConfig(this.mount);
    const meta = await this.client.metadata(this.mount, this.path).catch((e: unknown) => {
      if (isRekeyError(e, 'ERR_STORE_AUTH')) return undefined;
      throw e;
    });
    const set = [config?.maxVersions ?? 0, meta?.maxVersions ?? 0].filter((n) => n > 0);
    const max = set.length === 0 ? 10 : Math.min(...set);
    if (max < 2)
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: ${this.mount}/${this.path} keeps only ${max} version`,
        {
          hint: `Rollback needs the old version: \`vault kv metadata put -max-versions=10 -mount=${this.mount} ${this.path}\`.`,
        },
      );
  }

  /**
   * Throws ERR_STORE_AUTH naming each capability of `need` the token lacks on the secret's data path
   * (`sys/capabilities-self`), what it has, and what each missing one is for. KV v2 tells `create` (a
   * secret that does not exist yet) from `update` (a full overwrite of an existing one: rekey's
   * check-and-set write) from `patch` (partial updates, which rekey does not use).
   *
   * @example
   * await store.requireCapabilities(['read', 'update']);
   */
  async requireCapabilities(need: readonly ('read' | 'update' | 'create')[]): Promise<void> {
    const caps = (await this.client.capabilities([this.where]))[this.where] ?? [];
    const can = (c: string) => !caps.includes('deny') && (caps.includes('root') || caps.includes(c));
    const missing = need.filter((c) => !can(c));
    if (missing.length === 0) return;
    const has = caps.length === 0 ? 'none' : [...caps].sort().join(', ');
    throw new RekeyError(
      'ERR_STORE_AUTH',
      `vault-kv: the token lacks ${missing.join(' and ')} on ${this.where} (it has: ${has})`,
      {
        hint: `${missing.map((c) => CAPABILITY_USE[c]).join('; ')}. Grant its policy \`path "${this.where}" { capabilities = [${need.map((c) => `"${c}"`).join(', ')}] }\`.`,
      },
    );
  }

  private async current(): Promise<KvVersion> {
    const v = await this.client.read(this.mount, this.path);
    if (v === undefined || v.data === null)
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: ${this.where} ${v === undefined ? 'does not exist' : `version ${v.version} is ${v.destroyed ? 'destroyed' : 'deleted'}`}`,
        { hint: 'Run `rekey migrate --to vault-kv` to copy the env file into it, or fix `store.path`.' },
      );
    return v;
  }

  async read(): Promise<StoreSnapshot> {
    const v = await this.current();
    return { values: strings(v.data), version: String(v.version) };
  }

  /** Fields are unique by construction: nothing to check. */
  checkKeys(_snapshot: StoreSnapshot, _keys: readonly string[]): void {}

  async prepare(
    snapshot: StoreSnapshot,
    _changes: readonly StoreChange[],
    _at: Date,
  ): Promise<PreparedCommit> {
    const v = await this.current();
    if (String(v.version) !== snapshot.version)
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `vault-kv: ${this.where} changed since it was read (version ${v.version}, was ${snapshot.version})`,
      );
    const record: VaultKvRecord = {
      type: 'vault-kv',
      address: this.client.address,
      namespace: this.client.namespace ?? null,
      mount: this.mount,
      path: this.path,
      version: v.version,
    };
    return { record, summary: `Vault version ${v.version} kept (the old values)` };
  }

  async commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }> {
    const r = this.own(record);
    const next: Values = Object.fromEntries(changes.map((c) => [c.key, c.value]));
    const done = (version: number) => ({
      summary: `already committed (Vault version ${version})`,
      record: { ...r, written: version },
    });
    const cur = await this.current();
    if (positionOf(strings(cur.data), {}, next) === 'new') return done(cur.version);
    if (cur.version !== r.version) throw this.changedSince(r, cur.version);
    try {
      const written = await guard('writing the Vault secret', () =>
        this.client.write(this.mount, this.path, { ...cur.data, ...next }, r.version),
      );
      return { summary: `Vault version ${written} written`, record: { ...r, written } };
    } catch (e) {
      // A lost answer to a write that took effect comes back as a CAS failure on the retry.
      if (!isRekeyError(e, 'ERR_STORE_CONFLICT')) throw e;
      const again = await this.current();
      if (positionOf(strings(again.data), {}, next) === 'new') return done(again.version);
      throw this.changedSince(r, again.version);
    }
  }

  private changedSince(r: VaultKvRecord, version: number): RekeyError {
    return new RekeyError(
      'ERR_STORE_CONFLICT',
      `vault-kv: another writer changed ${this.where} during the rotation (version ${version}, expected ${r.version})`,
    );
  }

  async position(record: StoreRecord, old: Values, next: Values): Promise<StorePosition> {
    this.own(record);
    const v = await this.client.read(this.mount, this.path);
    if (v === undefined || v.data === null) return 'other';
    const p = positionOf(strings(v.data), old, next);
    return p === 'partial' ? 'other' : p; // one write: never partly applied
  }

  async restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord; readonly held?: string }> {
    const r = this.own(record);
    const oldValues = await this.oldValues(r, old, Object.keys(next));
    for (let attempt = 0; attempt < 2; attempt++) {
      const cur = await this.client.read(this.mount, this.path);
      const held = cur?.data == null ? new Map<string, string>() : strings(cur.data);
      const p = cur?.data == null ? 'other' : positionOf(held, oldValues, next);
      if (p === 'old') return { summary: 'Vault already holds the old values' };
      // Another writer won the check-and-set: none of the rotation's values is there, theirs is kept.
      if (p === 'other' && holdsNoneOf(held, next))
        return {
          summary:
            "Vault holds none of the rotation's new values: nothing put back (the other writer's kept)",
          held: `another writer's values kept (Vault version ${cur?.version ?? 'none'}); the old values are not in the store (they are Vault version ${r.version})`,
        };
      if (p !== 'new' || cur === undefined) throw this.conflict(r);
      try {
        const restored = await guard('restoring the Vault secret', () =>
          this.client.write(this.mount, this.path, { ...cur.data, ...oldValues }, cur.version),
        );
        return {
          summary: `old values written back as Vault version ${restored}`,
          record: { ...r, restored },
        };
      } catch (e) {
        if (!isRekeyError(e, 'ERR_STORE_CONFLICT')) throw e; // re-read: a lost answer, or another writer
      }
    }
    throw this.conflict(r);
  }

  /** The old values of `keys`: from `old` when given, else from the version the record names. */
  private async oldValues(
    r: VaultKvRecord,
    old: readonly StoreChange[],
    keys: readonly string[],
  ): Promise<Values> {
    const given: Record<string, string> = Object.fromEntries(old.map((c) => [c.key, c.value]));
    if (keys.every((k) => k in given)) return given;
    const v = await this.client.read(this.mount, this.path, r.version);
    if (v?.data == null)
      throw new RekeyError(
        'ERR_STORE_CHANGED',
        `vault-kv: the old values (version ${r.version} of ${this.where}) are no longer kept`,
        { hint: 'Restore them by hand from your own copy; raise max_versions so rollback keeps working.' },
      );
    const data = strings(v.data);
    for (const k of keys) if (!(k in given) && data.has(k)) given[k] = data.get(k)!;
    return given;
  }

  kept(record: StoreRecord): string {
    return `Vault version ${String(record.version)} of ${this.where}`;
  }

  /** The values the rotation replaced: version `record.version` of the secret, read back (`rekey rollback`). */
  async previous(record: StoreRecord, keys: readonly string[], began: Date): Promise<Values> {
    const r = this.own(record);
    const v = await this.client.read(this.mount, this.path, r.version);
    if (v?.created !== undefined && Date.parse(v.created) > began.getTime()) throw this.recreated(r);
    if (v?.data == null) {
      const deleted = v !== undefined && !v.destroyed;
      const state =
        v === undefined
          ? 'no longer kept (Vault pruned it: the secret keeps only its newest max_versions versions)'
          : deleted
            ? 'deleted'
            : 'destroyed';
      throw new RekeyError(
        'ERR_BACKUP_NOT_FOUND',
        `vault-kv: the values before the last rotation, version ${r.version} of ${this.where}, are ${state}; nothing was changed`,
        {
          hint: deleted
            ? `Undelete it (\`vault kv undelete -mount=${this.mount} -versions=${r.version} ${this.path}\`) and run again, or pass --backup PATH naming a file of KEY=value lines holding the values to return to.`
            : `Pass --backup PATH naming a file of KEY=value lines holding the values to return to (from your own copy); keep more versions so rollback can read them: \`vault kv metadata put -max-versions=10 -mount=${this.mount} ${this.path}\`.`,
        },
      );
    }
    const data = strings(v.data);
    return Object.fromEntries(keys.map((k) => [k, data.get(k) ?? '']));
  }

  private recreated(r: VaultKvRecord): RekeyError {
    return new RekeyError(
      'ERR_BACKUP_NOT_FOUND',
      `vault-kv: version ${r.version} of ${this.where} was written after the last rotation began: the secret was deleted and re-created since, and the values that rotation replaced are gone; nothing was changed`,
      {
        hint: 'Pass --backup PATH naming a file of KEY=value lines holding the values to return to (from your own copy).',
      },
    );
  }

  conflict(record: StoreRecord): RekeyError {
    const v = String(record.version);
    return new RekeyError(
      'ERR_STORE_CHANGED',
      `vault-kv: ${this.where} holds values that are neither the rotation's old nor its new ones`,
      {
        hint: `The old values are Vault version ${v}; once you know who wrote since, \`vault kv rollback -mount=${this.mount} -version=${v} ${this.path}\` puts them back.`,
      },
    );
  }

  async owner(record: StoreRecord): Promise<string | undefined> {
    const mine = `Vault ${this.client.address} ${this.client.namespace ?? ''} ${this.where}`;
    if (record.type !== 'vault-kv') return `a ${record.type} store, not ${this.name}`;
    const theirs = `Vault ${String(record.address)} ${String(record.namespace ?? '')} ${String(record.mount)}/data/${String(record.path)}`;
    return theirs === mine ? undefined : `${theirs.replace(/\s+/g, ' ')}, not ${mine.replace(/\s+/g, ' ')}`;
  }

  async owns(record: StoreRecord): Promise<boolean> {
    return (await this.owner(record)) === undefined;
  }

  private own(record: StoreRecord): VaultKvRecord {
    if (!isRecord(record) || record.mount !== this.mount || record.path !== this.path)
      throw new RekeyError(
        'ERR_JOURNAL_CORRUPT',
        `vault-kv: the journal's store record is not of ${this.where}`,
      );
    return record;
  }
}
