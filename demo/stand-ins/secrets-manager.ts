/**
 * AWS Secrets Manager stand-in for tests and the demo: the operations rekey uses over the AWS JSON 1.1
 * protocol (`X-Amz-Target: secretsmanager.<Operation>`), written from the Secrets Manager API
 * reference (https://docs.aws.amazon.com/secretsmanager/latest/apireference/), read, not copied:
 * - CreateSecret, GetSecretValue (`VersionId` / `VersionStage`, AWSCURRENT by default),
 *   DescribeSecret (`VersionIdsToStages`: versions that carry a staging label), DeleteSecret
 * - PutSecretValue: `ClientRequestToken` (32–64 characters) becomes the VersionId and makes the call
 *   idempotent: the same token with the same value is ignored, with another value it is
 *   `ResourceExistsException`; `VersionStages` defaults to AWSCURRENT
 * - UpdateSecretVersionStage: a staging label is on one version; moving a label attached elsewhere
 *   needs `RemoveFromVersionId` naming that version (`InvalidParameterException` otherwise);
 *   moving AWSCURRENT moves AWSPREVIOUS to the version it left; AWSCURRENT cannot be removed alone
 * - Versions without a label are deprecated; beyond 100 versions the oldest deprecated are dropped.
 * Errors: ResourceNotFoundException, InvalidParameterException, InvalidRequestException,
 * ResourceExistsException, InternalServiceError (500), ThrottlingException.
 */
import { randomBytes } from 'node:crypto';
import { ACCOUNT, type AwsAuthOptions, AwsError, AwsJsonHandler, epochSeconds, str } from './aws-json.js';
import { type RunningStandIn, serveStandIn } from './harness.js';

interface SecretVersion {
  value: string;
  stages: string[];
  created: number;
  order: number;
}

interface SecretRec {
  arn: string;
  name: string;
  description: string;
  versions: Map<string, SecretVersion>;
  created: number;
  changed: number;
}

export interface SecretsManagerStandInOptions extends AwsAuthOptions {
  readonly host?: string;
  readonly port?: number;
  readonly maxVersions?: number;
}

const notFound = () =>
  new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");

export class SecretsManagerHandler extends AwsJsonHandler {
  protected readonly targetPrefix = 'secretsmanager';
  protected readonly service = 'secretsmanager';
  protected readonly writes = new Set(['CreateSecret', 'PutSecretValue']);
  protected readonly internalErrorType = 'InternalServiceError';
  readonly secrets = new Map<string, SecretRec>();
  private readonly maxVersions: number;
  private order = 0;

  constructor(options: SecretsManagerStandInOptions = {}) {
    super(options);
    this.maxVersions = options.maxVersions ?? 100;
  }

  private find(id: string): SecretRec {
    const s = this.secrets.get(id) ?? [...this.secrets.values()].find((x) => x.arn === id);
    if (s === undefined) throw notFound();
    return s;
  }

  private holder(s: SecretRec, stage: string): string | undefined {
    return [...s.versions].find(([, v]) => v.stages.includes(stage))?.[0];
  }

  /** Attaches `stage` to version `id`, taking it from wherever it was; AWSCURRENT drags AWSPREVIOUS. */
  private attach(s: SecretRec, stage: string, id: string): void {
    const from = this.holder(s, stage);
    if (from === id) return;
    if (from !== undefined) {
      const old = s.versions.get(from)!;
      old.stages = old.stages.filter((x) => x !== stage);
    }
    s.versions.get(id)!.stages.push(stage);
    if (stage === 'AWSCURRENT' && from !== undefined) this.attach(s, 'AWSPREVIOUS', from);
  }

  private token(input: Record<string, unknown>): string {
    const t = str(input, 'ClientRequestToken') ?? randomBytes(16).toString('hex');
    if (t.length < 32 || t.length > 64)
      throw new AwsError(
        'InvalidParameterException',
        'ClientRequestToken must be between 32 and 64 characters.',
      );
    return t;
  }

  private addVersion(s: SecretRec, id: string, value: string, stages: readonly string[]): void {
    s.versions.set(id, { value, stages: [], created: epochSeconds(), order: ++this.order });
    for (const st of stages) this.attach(s, st, id);
    s.changed = epochSeconds();
    // Beyond maxVersions, the oldest deprecated (label-less) versions go.
    const deprecated = [...s.versions]
      .filter(([, v]) => v.stages.length === 0)
      .sort(([, a], [, b]) => a.order - b.order);
    while (s.versions.size > this.maxVersions && deprecated.length > 0)
      s.versions.delete(deprecated.shift()![0]);
  }

  protected operation(op: string, input: Record<string, unknown>): unknown {
    switch (op) {
      case 'CreateSecret': {
        const name = str(input, 'Name', true);
        if (this.secrets.has(name))
          throw new AwsError(
            'ResourceExistsException',
            `The operation failed because the secret ${name} already exists.`,
          );
        const arn = `arn:aws:secretsmanager:${this.region}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`;
        const s: SecretRec = {
          arn,
          name,
          description: str(input, 'Description') ?? '',
          versions: new Map(),
          created: epochSeconds(),
          changed: epochSeconds(),
        };
        this.secrets.set(name, s);
        const value = str(input, 'SecretString');
        if (value === undefined) return { ARN: arn, Name: name };
        const id = this.token(input);
        this.addVersion(s, id, value, ['AWSCURRENT']);
        return { ARN: arn, Name: name, VersionId: id };
      }
      case 'GetSecretValue': {
        const s = this.find(str(input, 'SecretId', true));
        const versionId = str(input, 'VersionId');
        const stage = str(input, 'VersionStage') ?? (versionId === undefined ? 'AWSCURRENT' : undefined);
        const byStage = stage === undefined ? undefined : this.holder(s, stage);
        if (stage !== undefined && byStage === undefined)
          throw new AwsError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
          );
        if (versionId !== undefined && !s.versions.has(versionId))
          throw new AwsError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
          );
        if (versionId !== undefined && byStage !== undefined && byStage !== versionId)
          throw new AwsError(
            'InvalidRequestException',
            `The staging label ${stage} is not attached to version ${versionId}.`,
          );
        const id = versionId ?? byStage!;
        const v = s.versions.get(id)!;
        return {
          ARN: s.arn,
          Name: s.name,
          VersionId: id,
          SecretString: v.value,
          VersionStages: [...v.stages],
          CreatedDate: v.created,
        };
      }
      case 'PutSecretValue': {
        const s = this.find(str(input, 'SecretId', true));
        const value = str(input, 'SecretString');
        if (value === undefined)
          throw new AwsError(
            'InvalidRequestException',
            'You must provide either SecretString or SecretBinary.',
          );
        const id = this.token(input);
        const stages = Array.isArray(input.VersionStages) ? input.VersionStages.map(String) : ['AWSCURRENT'];
        const existing = s.versions.get(id);
        if (existing !== undefined) {
          if (existing.value !== value)
            throw new AwsError(
              'ResourceExistsException',
              "You can't modify an existing version, you can only create a new version.",
            );
          return { ARN: s.arn, Name: s.name, VersionId: id, VersionStages: [...existing.stages] };
        }
        this.addVersion(s, id, value, stages);
        return { ARN: s.arn, Name: s.name, VersionId: id, VersionStages: [...s.versions.get(id)!.stages] };
      }
      case 'UpdateSecretVersionStage': {
        const s = this.find(str(input, 'SecretId', true));
        const stage = str(input, 'VersionStage', true);
        const moveTo = str(input, 'MoveToVersionId');
        const removeFrom = str(input, 'RemoveFromVersionId');
        const holder = this.holder(s, stage);
        if (moveTo !== undefined && !s.versions.has(moveTo))
          throw new AwsError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`,
          );
        if (removeFrom !== undefined && removeFrom !== holder && !(moveTo !== undefined && holder === moveTo))
          throw new AwsError(
            'InvalidParameterException',
            `The parameter RemoveFromVersionId is invalid: staging label ${stage} is ${holder === undefined ? 'not attached to any version' : `currently attached to version ${holder}`}.`,
          );
        if (moveTo !== undefined) {
          if (holder !== undefined && holder !== moveTo && removeFrom === undefined)
            throw new AwsError(
              'InvalidParameterException',
              `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder}, so you must explicitly reference that version in RemoveFromVersionId.`,
            );
          this.attach(s, stage, moveTo);
        } else {
          if (removeFrom === undefined)
            throw new AwsError(
              'InvalidParameterException',
              'You must specify MoveToVersionId, RemoveFromVersionId, or both.',
            );
          if (stage === 'AWSCURRENT')
            throw new AwsError(
              'InvalidParameterException',
              'You can only move staging label AWSCURRENT to a different secret version. It can’t be completely removed.',
            );
          const v = s.versions.get(removeFrom)!;
          v.stages = v.stages.filter((x) => x !== stage);
        }
        s.changed = epochSeconds();
        return { ARN: s.arn, Name: s.name };
      }
      case 'DescribeSecret': {
        const s = this.find(str(input, 'SecretId', true));
        const VersionIdsToStages: Record<string, string[]> = {};
        for (const [id, v] of s.versions) if (v.stages.length > 0) VersionIdsToStages[id] = [...v.stages];
        return {
          ARN: s.arn,
          Name: s.name,
          Description: s.description,
          RotationEnabled: false,
          LastChangedDate: s.changed,
          CreatedDate: s.created,
          VersionIdsToStages,
        };
      }
      case 'DeleteSecret': {
        const s = this.find(str(input, 'SecretId', true));
        this.secrets.delete(s.name);
        return { ARN: s.arn, Name: s.name, DeletionDate: epochSeconds() };
      }
      default:
        throw new AwsError('UnknownOperationException', `The stand-in does not serve ${op}.`);
    }
  }
}

export interface SecretsManagerStandIn extends RunningStandIn {
  readonly handler: SecretsManagerHandler;
}

/**
 * Starts a Secrets Manager stand-in on 127.0.0.1; point the SDK's `endpoint` at `url`.
 *
 * @example
 * const sm = await startSecretsManagerStandIn({ region: 'eu-west-1' });
 */
export async function startSecretsManagerStandIn(
  options: SecretsManagerStandInOptions = {},
): Promise<SecretsManagerStandIn> {
  const handler = new SecretsManagerHandler(options);
  return Object.assign(await serveStandIn(handler, options), { handler });
}
