/**
 * The aws-ssm store: one SecureString parameter per key, `<prefix><KEY>`. Commit is a
 * `PutParameter Overwrite` per key, each preceded by a check that the parameter is still at the
 * version read before the rotation (SSM has no compare-and-set: the window between the check and the
 * put is narrow, not closed). It is not atomic across keys, so `position` can be `partial` and both
 * commit and restore converge from any subset written. The journal keeps the version numbers; the
 * old values stay in the parameters' history. Labels `rekey-current` / `rekey-previous` show humans
 * what rekey did (best effort: a refused label does not fail the rotation).
 */
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  type Parameter,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { AwsSsmStoreConfig } from '../../config/store.js';
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
import { RekeyError } from '../../lib/errors.js';
import { type AwsClientConfig, awsCall, ssmClient } from '../aws/clients.js';
import { unguarded } from '../guard.js';
import { holdsNoneOf, positionOf } from '../position.js';

const STORE = 'aws-ssm';
export const LABEL_CURRENT = 'rekey-current';
export const LABEL_PREVIOUS = 'rekey-previous';

/** What the journal holds for an aws-ssm rotation: versions, never a value. */
export interface AwsSsmRecord extends StoreRecord {
  readonly type: 'aws-ssm';
  readonly region: string | null;
  readonly prefix: string;
  /** Per key: the version read before the rotation (0: the parameter did not exist). */
  readonly old: Readonly<Record<string, number>>;
  /** Per key: the version the commit wrote, as far as known. */
  readonly written?: Readonly<Record<string, number>>;
}

function isRecord(record: StoreRecord): record is AwsSsmRecord {
  return record.type === STORE && typeof record.prefix === 'string' && typeof record.old === 'object';
}

/**
 * @example
 * const store = new AwsSsmStore({ type: 'aws-ssm', prefix: '/bi/production/', region: 'eu-west-1' });
 */
export class AwsSsmStore implements Store {
  readonly type = STORE;
  readonly label = 'SSM parameters';
  readonly titles = {
    commit: 'put the SSM parameters (one version each)',
    restore: 'put the old values back into the SSM parameters',
  };
  readonly name: string;
  private readonly client: SSMClient;
  private readonly prefix: string;
  private readonly region: string | null;
  private readonly kmsKeyId: string | undefined;

  constructor(config: AwsSsmStoreConfig, clientConfig: Omit<AwsClientConfig, 'region' | 'endpoint'> = {}) {
    this.prefix = config.prefix;
    this.region = config.region ?? null;
    this.kmsKeyId = config.kmsKeyId;
    this.client = ssmClient({
      ...clientConfig,
      ...(config.region === undefined ? {} : { region: config.region }),
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    });
    this.name = `SSM ${config.prefix}*${config.region === undefined ? '' : ` (${config.region})`}`;
  }

  private call<T>(what: string, run: (abortSignal: AbortSignal) => Promise<T>, pass: readonly string[] = []) {
    return awsCall(STORE, what, run, pass);
  }

  /** Every parameter directly under the prefix, decrypted: name → parameter. */
  private async all(): Promise<Map<string, Parameter>> {
    const out = new Map<string, Parameter>();
    let NextToken: string | undefined;
    do {
      const page = await this.call(`GetParametersByPath ${this.prefix}`, (abortSignal) =>
        this.client.send(
          new GetParametersByPathCommand({
            Path: this.prefix,
            WithDecryption: true,
            MaxResults: 10,
            NextToken,
          }),
          { abortSignal },
        ),
      );
      for (const p of page.Parameters ?? []) if (p.Name !== undefined) out.set(p.Name, p);
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    return out;
  }

  /** The current parameters of `keys` (absent ones missing from the map). */
  private async some(keys: readonly string[]): Promise<Map<string, Parameter>> {
    const out = new Map<string, Parameter>();
    for (let i = 0; i < keys.length; i += 10) {
      const names = keys.slice(i, i + 10).map((k) => this.prefix + k);
      const res = await this.call(`GetParameters ${names.join(', ')}`, (abortSignal) =>
        this.client.send(new GetParametersCommand({ Names: names, WithDecryption: true }), { abortSignal }),
      );
      for (const p of res.Parameters ?? [])
        if (p.Name !== undefined) out.set(p.Name.slice(this.prefix.length), p);
    }
    return out;
  }

  /** Preflight: the credentials can list the prefix (SSM offers no way to test a write without making one). */
  async check(_keys?: readonly string[]): Promise<void> {
    await this.call(`GetParametersByPath ${this.prefix}`, (abortSignal) =>
      this.client.send(new GetParametersByPathCommand({ Path: this.prefix, MaxResults: 1 }), { abortSignal }),
    );
  }

  async read(): Promise<StoreSnapshot> {
    const params = await this.all();
    const values = new Map<string, string>();
    const versions: [string, number][] = [];
    for (const [name, p] of params) {
      const key = name.slice(this.prefix.length);
      values.set(key, p.Value ?? '');
      versions.push([key, p.Version ?? 0]);
    }
    versions.sort(([a], [b]) => a.localeCompare(b));
    return { values, version: JSON.stringify(versions) };
  }

  checkKeys(_snapshot: StoreSnapshot, keys: readonly string[]): void {
    const bad = keys.filter((k) => !/^[A-Za-z0-9_.-]+$/.test(k) || (this.prefix + k).length > 1011);
    if (bad.length > 0)
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `aws-ssm: not valid in a parameter name: ${bad.join(', ')}`,
        {
          hint: 'SSM parameter names take letters, digits and _ . - only; rename the key.',
        },
      );
  }

  async prepare(
    snapshot: StoreSnapshot,
    changes: readonly StoreChange[],
    _at: Date,
  ): Promise<PreparedCommit> {
    const now = await this.read();
    if (now.version !== snapshot.version)
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `aws-ssm: parameters under ${this.prefix} changed since they were read`,
      );
    const versions = new Map<string, number>(JSON.parse(now.version) as [string, number][]);
    const old = Object.fromEntries(changes.map((c) => [c.key, versions.get(c.key) ?? 0]));
    const record: AwsSsmRecord = { type: STORE, region: this.region, prefix: this.prefix, old };
    const kept = Object.entries(old)
      .map(([k, v]) => (v === 0 ? `${k} new` : `${k} v${v}`))
      .join(', ');
    return { record, summary: `SSM versions kept: ${kept}` };
  }

  private put(key: string, value: string, overwrite: boolean) {
    const Name = this.prefix + key;
    return this.call(`PutParameter ${Name}`, (abortSignal) =>
      this.client.send(
        new PutParameterCommand({
          Name,
          Value: value,
          Type: 'SecureString',
          Overwrite: overwrite,
          ...(this.kmsKeyId === undefined ? {} : { KeyId: this.kmsKeyId }),
        }),
        { abortSignal },
      ),
    );
  }

  /** Moves a label; returns the failure's name instead of throwing (labels are for humans). */
  private async moveLabel(key: string, version: number, label: string): Promise<string | undefined> {
    const Name = this.prefix + key;
    try {
      await this.call(`LabelParameterVersion ${Name}`, (abortSignal) =>
        this.client.send(
          new LabelParameterVersionCommand({ Name, ParameterVersion: version, Labels: [label] }),
          {
            abortSignal,
          },
        ),
      );
      return undefined;
    } catch (e) {
      return e instanceof RekeyError ? e.message : 'failed';
    }
  }

  async commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }> {
    const r = this.own(record);
    const current = await this.some(changes.map((c) => c.key));
    // Check every key before writing any: a key changed by someone else stops the commit untouched.
    for (const c of changes) {
      const p = current.get(c.key);
      if (p?.Value === c.value || (c.value === '' && p === undefined)) continue;
      if ((p?.Version ?? 0) !== (r.old[c.key] ?? 0))
        throw new RekeyError(
          'ERR_STORE_CONFLICT',
          `aws-ssm: another writer changed ${this.prefix}${c.key} during the rotation (version ${p?.Version ?? 'none'}, expected ${r.old[c.key] || 'none'})`,
        );
    }
    const written: Record<string, number> = { ...r.written };
    let wrote = 0;
    const labelFailures: string[] = [];
    for (const c of changes) {
      const p = current.get(c.key);
      if (p?.Value === c.value) {
        written[c.key] = p.Version ?? 0;
        continue;
      }
      // Re-check right before the put: the narrowest window SSM allows.
      const now = (await this.some([c.key])).get(c.key);
      if (now?.Value === c.value || (c.value === '' && now === undefined)) {
        written[c.key] = now?.Version ?? 0;
        continue;
      }
      if ((now?.Version ?? 0) !== (r.old[c.key] ?? 0))
        throw new RekeyError(
          'ERR_STORE_CONFLICT',
          `aws-ssm: another writer changed ${this.prefix}${c.key} during the rotation`,
        );
      if (c.value === '') {
        // SSM refuses an empty value (1 to 4096 characters): an emptied key (a grace slot a
        // compromise rotation clears) is a deleted parameter. Its history goes with it; the old
        // value stays in the pending journal for a rollback.
        const Name = this.prefix + c.key;
        await guard(`removing ${Name}`, () =>
          this.call(`DeleteParameter ${Name}`, (abortSignal) =>
            this.client.send(new DeleteParameterCommand({ Name }), { abortSignal }),
          ),
        );
        written[c.key] = 0;
        wrote += 1;
        continue;
      }
      const out = await guard(`writing ${this.prefix}${c.key}`, () =>
        this.put(c.key, c.value, now !== undefined),
      );
      written[c.key] = out.Version ?? 0;
      wrote += 1;
    }
    for (const c of changes) {
      if (c.value === '') continue; // deleted: no version to label
      const failed = [
        await this.moveLabel(c.key, written[c.key]!, LABEL_CURRENT),
        r.old[c.key] ? await this.moveLabel(c.key, r.old[c.key]!, LABEL_PREVIOUS) : undefined,
      ].filter((x) => x !== undefined);
      if (failed.length > 0) labelFailures.push(c.key);
    }
    const versions = changes.map((c) => `${c.key} v${written[c.key]}`).join(', ');
    const summary =
      (wrote === 0 ? `already committed (${versions})` : `SSM parameters written: ${versions}`) +
      (labelFailures.length === 0 ? '' : `; labels not moved on ${labelFailures.join(', ')}`);
    return { summary, record: { ...r, written } };
  }

  async position(record: StoreRecord, old: Values, next: Values): Promise<StorePosition> {
    this.own(record);
    const current = await this.some(Object.keys(next));
    return positionOf(
      new Map(Object.keys(next).map((k) => [k, heldValue(current, k, old, next)])),
      old,
      next,
    );
  }

  async restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord; readonly held?: string }> {
    const r = this.own(record);
    const keys = Object.keys(next);
    const oldValues = await this.oldValues(r, old, keys);
    const current = await this.some(keys);
    // Refuse before writing anything when a key holds neither value, unless no key holds the
    // rotation's new value: another writer's, then, kept as they are (nothing of rekey's to undo).
    const held = new Map(keys.map((k) => [k, heldValue(current, k, oldValues, next)]));
    if (positionOf(held, oldValues, next) === 'other' && !holdsNoneOf(held, next)) throw this.conflict(r);
    let wrote = 0;
    for (const key of keys) {
      const value = held.get(key);
      if (value === oldValues[key] || value !== next[key]) continue;
      const want = oldValues[key];
      if (want === undefined || want === '') {
        // rekey created this parameter (or it was empty: absent in SSM): remove it again, only
        // while it holds rekey's value.
        const Name = this.prefix + key;
        await guard(`removing ${Name}`, () =>
          this.call(`DeleteParameter ${Name}`, (abortSignal) =>
            this.client.send(new DeleteParameterCommand({ Name }), { abortSignal }),
          ),
        );
      } else {
        const out = await guard(`restoring ${this.prefix}${key}`, () => this.put(key, want, true));
        await this.moveLabel(key, out.Version ?? 0, LABEL_CURRENT);
        const reverted = current.get(key)?.Version;
        if (reverted !== undefined) await this.moveLabel(key, reverted, LABEL_PREVIOUS);
      }
      wrote += 1;
    }
    // Keys another writer changed (neither old nor new): theirs are kept, as they are.
    const theirs = keys.filter((k) => held.get(k) !== oldValues[k] && held.get(k) !== next[k]);
    return {
      summary:
        wrote === 0
          ? holdsNoneOf(held, next) && positionOf(held, oldValues, next) === 'other'
            ? "SSM holds none of the rotation's new values: nothing put back (the other writer's kept)"
            : 'SSM already holds the old values'
          : `old values put back into ${wrote} SSM parameter(s)`,
      ...(theirs.length === 0
        ? {}
        : {
            held: `another writer's values kept (${theirs
              .map((k) => `${this.prefix}${k} v${current.get(k)?.Version ?? 'none'}`)
              .join(', ')}); their old values are not in the store (they are ${theirs
              .map((k) => (r.old[k] ? `${this.prefix}${k}:${r.old[k]}` : `${k}: none`))
              .join(', ')})`,
          }),
    };
  }

  /** The old values: from `old` when given, else from the parameter history at the journaled versions. */
  private async oldValues(
    r: AwsSsmRecord,
    old: readonly StoreChange[],
    keys: readonly string[],
  ): Promise<Values> {
    const given: Record<string, string> = Object.fromEntries(old.map((c) => [c.key, c.value]));
    for (const key of keys) {
      if (key in given || !r.old[key]) continue;
      const Name = `${this.prefix}${key}:${r.old[key]}`;
      try {
        const res = await this.call(
          `GetParameter ${Name}`,
          (abortSignal) =>
            this.client.send(new GetParameterCommand({ Name, WithDecryption: true }), { abortSignal }),
          ['ParameterNotFound', 'ParameterVersionNotFound'],
        );
        if (res.Parameter?.Value !== undefined) given[key] = res.Parameter.Value;
      } catch {
        throw new RekeyError(
          'ERR_STORE_CHANGED',
          `aws-ssm: the old version of ${this.prefix}${key} is no longer kept`,
          {
            hint: 'Put the old value back by hand from your own copy (SSM keeps 100 versions per parameter).',
          },
        );
      }
    }
    return given;
  }

  kept(record: StoreRecord): string {
    const r = this.own(record);
    return `SSM parameter history (${Object.entries(r.old)
      .map(([k, v]) => (v === 0 ? `${k}: none` : `${this.prefix}${k}:${v}`))
      .join(', ')})`;
  }

  /**
   * The values the rotation replaced (`rekey rollback`): each parameter's journaled old version,
   * `<name>:<version>` ('' for a parameter the rotation created).
   */
  async previous(record: StoreRecord, keys: readonly string[], began: Date): Promise<Values> {
    const r = this.own(record);
    const out: Record<string, string> = {};
    for (const key of keys) {
      const version = r.old[key];
      if (!version) {
        out[key] = '';
        continue;
      }
      const Name = `${this.prefix}${key}:${version}`;
      try {
        const res = await this.call(
          `GetParameter ${Name}`,
          (abortSignal) =>
            this.client.send(new GetParameterCommand({ Name, WithDecryption: true }), { abortSignal }),
          ['ParameterNotFound', 'ParameterVersionNotFound'],
        );
        const modified = res.Parameter?.LastModifiedDate;
        if (modified !== undefined && modified.getTime() > began.getTime())
          throw new RekeyError(
            'ERR_BACKUP_NOT_FOUND',
            `aws-ssm: version ${version} of ${this.prefix}${key} was written after the last rotation began: the parameter was deleted and re-created since, and the value that rotation replaced is gone; nothing was changed`,
            {
              hint: 'Pass --backup PATH naming a file of KEY=value lines holding the values to return to (from your own copy).',
            },
          );
        out[key] = res.Parameter?.Value ?? '';
      } catch (e) {
        if (!(e instanceof Error) || e instanceof RekeyError) throw e;
        throw new RekeyError(
          'ERR_BACKUP_NOT_FOUND',
          `aws-ssm: the value before the last rotation, version ${version} of ${this.prefix}${key}, is no longer kept (${e.name}: SSM keeps a parameter's last 100 versions, and deleting it drops them all); nothing was changed`,
          {
            hint: 'Pass --backup PATH naming a file of KEY=value lines holding the values to return to (from your own copy).',
          },
        );
      }
    }
    return out;
  }

  conflict(record: StoreRecord): RekeyError {
    const r = this.own(record);
    const first = Object.entries(r.old).find(([, v]) => v > 0);
    return new RekeyError(
      'ERR_STORE_CHANGED',
      `aws-ssm: parameters under ${this.prefix} hold values that are neither the rotation's old nor its new ones`,
      {
        hint:
          first === undefined
            ? 'Check the parameters by hand (`aws ssm get-parameter-history`).'
            : `The old values are the journaled versions, e.g. ${this.prefix}${first[0]}:${first[1]} (\`aws ssm get-parameter-history --name ${this.prefix}${first[0]}\`); put them back once you know who wrote since.`,
      },
    );
  }

  async owner(record: StoreRecord): Promise<string | undefined> {
    const mine = `SSM ${this.prefix} (${this.region ?? 'default region'})`;
    if (record.type !== STORE) return `a ${record.type} store, not ${mine}`;
    const theirs = `SSM ${String(record.prefix)} (${String(record.region ?? 'default region')})`;
    return theirs === mine ? undefined : `${theirs}, not ${mine}`;
  }

  async owns(record: StoreRecord): Promise<boolean> {
    return (await this.owner(record)) === undefined;
  }

  private own(record: StoreRecord): AwsSsmRecord {
    if (!isRecord(record) || record.prefix !== this.prefix)
      throw new RekeyError(
        'ERR_JOURNAL_CORRUPT',
        `aws-ssm: the journal's store record is not of ${this.prefix}`,
      );
    return record;
  }
}

/**
 * What a key holds for position and restore: its value, or `''` when it is absent and the rotation
 * emptied it or found it empty (an empty value is a deleted parameter in SSM).
 */
function heldValue(
  current: ReadonlyMap<string, { Value?: string }>,
  key: string,
  old: Values,
  next: Values,
): string | undefined {
  return current.get(key)?.Value ?? (next[key] === '' || old[key] === '' ? '' : undefined);
}
