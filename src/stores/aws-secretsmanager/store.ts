/**
 * The aws-secretsmanager store: one secret whose SecretString is a JSON object with a field per
 * managed key (other fields kept). The protocol is Secrets Manager's own rotation: the new value is
 * staged as AWSPENDING with `ClientRequestToken` = the rotation's token (journaled; a re-run with the
 * same token and value is a no-op), then AWSCURRENT is moved onto it with `RemoveFromVersionId` = the
 * version read before the rotation, which Secrets Manager refuses if AWSCURRENT moved meanwhile: the
 * compare-and-set. Restore moves AWSCURRENT back (AWSPREVIOUS follows by itself). A stale AWSPENDING
 * left by a crashed run is recognised by its `rekey-` token; one staged by another tool (a rotation
 * Lambda) stops preflight.
 */
import { createHash } from 'node:crypto';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { AwsSecretsManagerStoreConfig } from '../../config/store.js';
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
import { type AwsClientConfig, awsCall, secretsManagerClient } from '../aws/clients.js';
import { unguarded } from '../guard.js';
import { holdsNoneOf, positionOf } from '../position.js';

const STORE = 'aws-secretsmanager';
const TOKEN_PREFIX = 'rekey-';

/** What the journal holds for an aws-secretsmanager rotation: version ids, never a value. */
export interface AwsSecretsManagerRecord extends StoreRecord {
  readonly type: 'aws-secretsmanager';
  readonly region: string | null;
  readonly secretId: string;
  /** The AWSCURRENT VersionId read before the rotation: the old values. */
  readonly version: string;
  /** The rotation's ClientRequestToken: the VersionId of the new values. */
  readonly token: string;
}

function isRecord(record: StoreRecord): record is AwsSecretsManagerRecord {
  return record.type === STORE && typeof record.version === 'string' && typeof record.token === 'string';
}

/**
 * The rotation's token, derived from the record's own facts (the secret, the old version, the time):
 * the same on a re-run of prepare, 32–64 characters as Secrets Manager requires, and recognisable.
 *
 * @example
 * rotationToken('bi/production', 'a1b2…', new Date('2026-12-04T12:00:00Z')); // 'rekey-20261204T120000Z-<24 hex>'
 */
export function rotationToken(secretId: string, version: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const digest = createHash('sha256').update(`${secretId}\0${version}\0${at.toISOString()}`).digest('hex');
  return `${TOKEN_PREFIX}${stamp}-${digest.slice(0, 24)}`;
}

function parseFields(text: string | undefined, where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new RekeyError('ERR_STORE_UNSUITABLE', `aws-secretsmanager: ${where} is not a JSON object`, {
      hint: 'rekey keeps one field per managed key in a JSON SecretString; run `rekey migrate --to aws-secretsmanager`.',
    });
  return parsed as Record<string, unknown>;
}

function strings(fields: Record<string, unknown>): Map<string, string> {
  return new Map(Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * @example
 * const store = new AwsSecretsManagerStore({ type: 'aws-secretsmanager', secretId: 'bi/production', region: 'eu-west-1' });
 */
export class AwsSecretsManagerStore implements Store {
  readonly type = STORE;
  readonly label = 'Secrets Manager secret';
  readonly titles = {
    commit: 'stage AWSPENDING and move AWSCURRENT onto it',
    restore: 'move AWSCURRENT back to the old version',
  };
  readonly name: string;
  private readonly client: SecretsManagerClient;
  private readonly secretId: string;
  private readonly region: string | null;

  constructor(
    config: AwsSecretsManagerStoreConfig,
    clientConfig: Omit<AwsClientConfig, 'region' | 'endpoint'> = {},
  ) {
    this.secretId = config.secretId;
    this.region = config.region ?? null;
    this.client = secretsManagerClient({
      ...clientConfig,
      ...(config.region === undefined ? {} : { region: config.region }),
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    });
    this.name = `Secrets Manager ${config.secretId}${config.region === undefined ? '' : ` (${config.region})`}`;
  }

  private call<T>(what: string, run: (abortSignal: AbortSignal) => Promise<T>, pass: readonly string[] = []) {
    return awsCall(STORE, `${what} ${this.secretId}`, run, pass);
  }

  /** Version id → staging labels (versions that carry one). */
  private async stages(): Promise<Map<string, string[]>> {
    const d = await this.call('DescribeSecret', (abortSignal) =>
      this.client.send(new DescribeSecretCommand({ SecretId: this.secretId }), { abortSignal }),
    );
    return new Map(Object.entries(d.VersionIdsToStages ?? {}));
  }

  private static holder(stages: Map<string, string[]>, stage: string): string | undefined {
    return [...stages].find(([, s]) => s.includes(stage))?.[0];
  }

  private async value(options: { VersionId?: string; VersionStage?: string }, pass: readonly string[] = []) {
    const v = await this.call(
      'GetSecretValue',
      (abortSignal) =>
        this.client.send(new GetSecretValueCommand({ SecretId: this.secretId, ...options }), { abortSignal }),
      pass,
    );
    return {
      id: v.VersionId ?? '',
      fields: parseFields(v.SecretString, `the SecretString of ${this.secretId}`),
    };
  }

  /**
   * Preflight: the secret exists and can be described; an AWSPENDING staged by something else than
   * rekey (a rotation Lambda mid-rotation) stops the rotation.
   */
  async check(_keys?: readonly string[]): Promise<void> {
    const stages = await this.stages();
    const pending = AwsSecretsManagerStore.holder(stages, 'AWSPENDING');
    const current = AwsSecretsManagerStore.holder(stages, 'AWSCURRENT');
    if (pending !== undefined && pending !== current && !pending.startsWith(TOKEN_PREFIX))
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `aws-secretsmanager: ${this.secretId} has a rotation pending by another tool (AWSPENDING on version ${pending})`,
        { hint: 'Let that rotation finish (or cancel it and remove AWSPENDING), then run again.' },
      );
  }

  async read(): Promise<StoreSnapshot> {
    const cur = await this.value({ VersionStage: 'AWSCURRENT' }, ['ResourceNotFoundException']).catch(
      (e: unknown) => {
        if (!(e instanceof Error) || e.name !== 'ResourceNotFoundException') throw e;
        throw new RekeyError(
          'ERR_STORE_UNSUITABLE',
          `aws-secretsmanager: ${this.secretId} has no value (no version carries AWSCURRENT: created without one?)`,
          {
            hint: 'Run `rekey migrate --to aws-secretsmanager` to write its first version from the env file, or fix `store.secretId`.',
          },
        );
      },
    );
    return { values: strings(cur.fields), version: cur.id };
  }

  checkKeys(_snapshot: StoreSnapshot, _keys: readonly string[]): void {}

  async prepare(
    snapshot: StoreSnapshot,
    _changes: readonly StoreChange[],
    at: Date,
  ): Promise<PreparedCommit> {
    const stages = await this.stages();
    const current = AwsSecretsManagerStore.holder(stages, 'AWSCURRENT');
    if (current !== snapshot.version)
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `aws-secretsmanager: AWSCURRENT of ${this.secretId} moved since it was read`,
      );
    const stale = AwsSecretsManagerStore.holder(stages, 'AWSPENDING');
    const record: AwsSecretsManagerRecord = {
      type: STORE,
      region: this.region,
      secretId: this.secretId,
      version: snapshot.version,
      token: rotationToken(this.secretId, snapshot.version, at),
    };
    const note =
      stale !== undefined && stale !== current && stale.startsWith(TOKEN_PREFIX)
        ? `; a stale AWSPENDING (${stale}) of an interrupted rotation will be replaced`
        : '';
    return { record, summary: `Secrets Manager version ${snapshot.version} kept (AWSCURRENT)${note}` };
  }

  async commit(
    record: StoreRecord,
    changes: readonly StoreChange[],
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord }> {
    const r = this.own(record);
    let stages = await this.stages();
    let current = AwsSecretsManagerStore.holder(stages, 'AWSCURRENT');
    if (current === r.token) {
      if (AwsSecretsManagerStore.holder(stages, 'AWSPENDING') === r.token) await this.dropPending(r.token);
      return { summary: `already committed (AWSCURRENT is ${r.token})` };
    }
    if (current !== r.version) throw this.movedSince(current);

    // 1. Stage the new values as AWSPENDING under the rotation's token (idempotent on a re-run).
    const old = await this.value({ VersionId: r.version });
    const next = JSON.stringify({
      ...old.fields,
      ...Object.fromEntries(changes.map((c) => [c.key, c.value])),
    });
    await guard('staging AWSPENDING', () =>
      this.call('PutSecretValue', (abortSignal) =>
        this.client.send(
          new PutSecretValueCommand({
            SecretId: this.secretId,
            ClientRequestToken: r.token,
            SecretString: next,
            VersionStages: ['AWSPENDING'],
          }),
          { abortSignal },
        ),
      ),
    );
    // 2. Move AWSCURRENT: refused by Secrets Manager unless it is still on the old version.
    try {
      await guard('moving AWSCURRENT', () => this.moveCurrent(r.token, r.version));
    } catch (e) {
      stages = await this.stages();
      current = AwsSecretsManagerStore.holder(stages, 'AWSCURRENT');
      if (current !== r.token) {
        if (current !== r.version) throw this.movedSince(current);
        throw e;
      }
    }
    await this.dropPending(r.token);
    return { summary: `AWSCURRENT moved to ${r.token} (AWSPREVIOUS: ${r.version})` };
  }

  private moveCurrent(to: string, from: string) {
    return this.call(
      'UpdateSecretVersionStage',
      (abortSignal) =>
        this.client.send(
          new UpdateSecretVersionStageCommand({
            SecretId: this.secretId,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: to,
            RemoveFromVersionId: from,
          }),
          { abortSignal },
        ),
      [],
    );
  }

  /** Takes AWSPENDING off `token` once AWSCURRENT is there, as a finished rotation leaves it (best effort). */
  private async dropPending(token: string): Promise<void> {
    await this.call('UpdateSecretVersionStage', (abortSignal) =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: this.secretId,
          VersionStage: 'AWSPENDING',
          RemoveFromVersionId: token,
        }),
        { abortSignal },
      ),
    ).catch(() => undefined);
  }

  private movedSince(current: string | undefined): RekeyError {
    return new RekeyError(
      'ERR_STORE_CONFLICT',
      `aws-secretsmanager: another writer moved AWSCURRENT of ${this.secretId} during the rotation (now ${current ?? 'nowhere'})`,
    );
  }

  async position(record: StoreRecord, old: Values, next: Values): Promise<StorePosition> {
    const r = this.own(record);
    const cur = await this.value({ VersionStage: 'AWSCURRENT' });
    if (cur.id === r.token) return 'new';
    const p = positionOf(strings(cur.fields), old, next);
    return p === 'partial' ? 'other' : p; // one stage move: never partly applied
  }

  async restore(
    record: StoreRecord,
    old: readonly StoreChange[],
    next: Values,
    guard: StoreWriteGuard = unguarded,
  ): Promise<{ readonly summary: string; readonly record?: StoreRecord; readonly held?: string }> {
    const r = this.own(record);
    const stages = await this.stages();
    const current = AwsSecretsManagerStore.holder(stages, 'AWSCURRENT');
    if (current === r.version) {
      await this.dropPending(r.token);
      return { summary: 'Secrets Manager already holds the old values (AWSCURRENT on the old version)' };
    }
    if (current === r.token) {
      await guard('moving AWSCURRENT back', () => this.moveCurrent(r.version, r.token));
      await this.dropPending(r.token);
      return { summary: `AWSCURRENT moved back to ${r.version}` };
    }
    // AWSCURRENT is elsewhere: fine only if it holds the old values (someone restored by hand).
    const oldValues: Values = Object.fromEntries(old.map((c) => [c.key, c.value]));
    const cur = await this.value({ VersionStage: 'AWSCURRENT' });
    if (old.length > 0 && positionOf(strings(cur.fields), oldValues, next) === 'old')
      return { summary: 'Secrets Manager already holds the old values' };
    // Another writer moved AWSCURRENT before the commit: none of the rotation's values is current,
    // theirs is kept; only the rotation's own AWSPENDING is dropped.
    if (holdsNoneOf(strings(cur.fields), next)) {
      await this.dropPending(r.token);
      return {
        summary:
          "AWSCURRENT holds none of the rotation's new values: nothing moved back (the other writer's kept)",
        held: `another writer's values kept (AWSCURRENT on version ${cur.id}); the old values are not in the store (they are version ${r.version})`,
      };
    }
    throw this.conflict(r);
  }

  kept(record: StoreRecord): string {
    return `Secrets Manager version ${String(record.version)} of ${this.secretId}`;
  }

  /** The values the rotation replaced (`rekey rollback`): version `record.version` (AWSPREVIOUS after it), read back. */
  async previous(record: StoreRecord, keys: readonly string[], _began: Date): Promise<Values> {
    const r = this.own(record);
    let text: string | undefined;
    try {
      const v = await this.call(
        'GetSecretValue',
        (abortSignal) =>
          this.client.send(new GetSecretValueCommand({ SecretId: this.secretId, VersionId: r.version }), {
            abortSignal,
          }),
        ['ResourceNotFoundException'],
      );
      text = v.SecretString;
    } catch (e) {
      if (!(e instanceof Error) || e instanceof RekeyError) throw e;
      throw new RekeyError(
        'ERR_BACKUP_NOT_FOUND',
        `aws-secretsmanager: the values before the last rotation, version ${r.version} of ${this.secretId}, are no longer kept (Secrets Manager removes versions that lost every staging label); nothing was changed`,
        {
          hint: 'Pass --backup PATH naming a file of KEY=value lines holding the values to return to (from your own copy).',
        },
      );
    }
    const data = strings(parseFields(text, `version ${r.version} of ${this.secretId}`));
    return Object.fromEntries(keys.map((k) => [k, data.get(k) ?? '']));
  }

  conflict(record: StoreRecord): RekeyError {
    const v = String(record.version);
    return new RekeyError(
      'ERR_STORE_CHANGED',
      `aws-secretsmanager: AWSCURRENT of ${this.secretId} is on a version that is neither the rotation's old nor its new one`,
      {
        hint: `The old values are version ${v}; once you know who wrote since, move AWSCURRENT back with \`aws secretsmanager update-secret-version-stage --secret-id ${this.secretId} --version-stage AWSCURRENT --move-to-version-id ${v} --remove-from-version-id <current>\`.`,
      },
    );
  }

  async owner(record: StoreRecord): Promise<string | undefined> {
    const mine = `Secrets Manager ${this.secretId} (${this.region ?? 'default region'})`;
    if (record.type !== STORE) return `a ${record.type} store, not ${mine}`;
    const theirs = `Secrets Manager ${String(record.secretId)} (${String(record.region ?? 'default region')})`;
    return theirs === mine ? undefined : `${theirs}, not ${mine}`;
  }

  async owns(record: StoreRecord): Promise<boolean> {
    return (await this.owner(record)) === undefined;
  }

  private own(record: StoreRecord): AwsSecretsManagerRecord {
    if (!isRecord(record) || record.secretId !== this.secretId)
      throw new RekeyError(
        'ERR_JOURNAL_CORRUPT',
        `aws-secretsmanager: the journal's store record is not of ${this.secretId}`,
      );
    return record;
  }
}
