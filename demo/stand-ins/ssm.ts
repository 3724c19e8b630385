/**
 * AWS Systems Manager Parameter Store stand-in for tests and the demo: the operations rekey uses over
 * the AWS JSON 1.1 protocol (`X-Amz-Target: AmazonSSM.<Operation>`), written from the SSM API
 * reference (https://docs.aws.amazon.com/systems-manager/latest/APIReference/), read, not copied:
 * - PutParameter (`Overwrite`, `Type` String / StringList / SecureString, version numbers;
 *   `ParameterAlreadyExists`; 100 versions kept, `ParameterMaxVersionLimitExceeded` when the oldest
 *   one to drop carries a label)
 * - GetParameter / GetParameters (selectors `name:version` and `name:label`, `WithDecryption`,
 *   `ParameterNotFound`, `ParameterVersionNotFound`, `InvalidParameters`), GetParametersByPath
 *   (`Recursive`, `MaxResults` ≤ 10, `NextToken`), GetParameterHistory (`MaxResults` ≤ 50)
 * - LabelParameterVersion: labels per "Working with parameter labels" (a label is on one version of
 *   a parameter and moves when applied to another; ≤ 10 per version; ≤ 100 characters of letters,
 *   digits, `.`, `-`, `_`; not starting with a digit, `aws` or `ssm`: such labels come back in
 *   `InvalidLabels`; `ParameterVersionLabelLimitExceeded`)
 * - DeleteParameter
 * SecureString values are returned as a stand-in ciphertext unless `WithDecryption` is true.
 */
import { randomBytes } from 'node:crypto';
import { ACCOUNT, type AwsAuthOptions, AwsError, AwsJsonHandler, epochSeconds, str } from './aws-json.js';
import { type RunningStandIn, serveStandIn } from './harness.js';

interface ParamVersion {
  value: string;
  type: string;
  labels: string[];
  modified: number;
  description: string;
  /** What GetParameter shows without decryption (SecureString). */
  ciphertext: string;
}

interface Param {
  versions: Map<number, ParamVersion>;
  current: number;
}

export interface SsmStandInOptions extends AwsAuthOptions {
  readonly host?: string;
  readonly port?: number;
  /** Versions kept per parameter (SSM: 100). */
  readonly maxVersions?: number;
}

const TYPES = new Set(['String', 'StringList', 'SecureString']);

function validLabel(label: string): boolean {
  return (
    label.length >= 1 &&
    label.length <= 100 &&
    /^[A-Za-z_.-][A-Za-z0-9_.-]*$/.test(label) &&
    !/^(aws|ssm)/i.test(label)
  );
}

export class SsmHandler extends AwsJsonHandler {
  protected readonly targetPrefix = 'AmazonSSM';
  protected readonly service = 'ssm';
  protected readonly writes = new Set(['PutParameter']);
  protected readonly internalErrorType = 'InternalServerError';
  readonly params = new Map<string, Param>();
  private readonly maxVersions: number;

  constructor(options: SsmStandInOptions = {}) {
    super(options);
    this.maxVersions = options.maxVersions ?? 100;
  }

  private arn(name: string): string {
    return `arn:aws:ssm:${this.region}:${ACCOUNT}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
  }

  /** `name`, `name:3` or `name:label` → the parameter and version. */
  private select(nameWithSelector: string): { name: string; n: number; v: ParamVersion; selector?: string } {
    const colon = nameWithSelector.lastIndexOf(':');
    const name = colon < 0 ? nameWithSelector : nameWithSelector.slice(0, colon);
    const selector = colon < 0 ? undefined : nameWithSelector.slice(colon + 1);
    const p = this.params.get(name);
    if (p === undefined) throw new AwsError('ParameterNotFound', '');
    let n = p.current;
    if (selector !== undefined) {
      if (/^\d+$/.test(selector)) n = Number(selector);
      else {
        const found = [...p.versions].find(([, v]) => v.labels.includes(selector));
        if (found === undefined)
          throw new AwsError(
            'ParameterVersionNotFound',
            `Systems Manager could not find version ${selector} of ${name}. Verify the version and try again.`,
          );
        n = found[0];
      }
    }
    const v = p.versions.get(n);
    if (v === undefined)
      throw new AwsError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${n} of ${name}. Verify the version and try again.`,
      );
    return { name, n, v, ...(selector === undefined ? {} : { selector: `:${selector}` }) };
  }

  private shown(name: string, n: number, v: ParamVersion, decrypt: boolean, selector?: string) {
    return {
      Name: name,
      Type: v.type,
      Value: v.type === 'SecureString' && !decrypt ? v.ciphertext : v.value,
      Version: n,
      ...(selector === undefined ? {} : { Selector: selector }),
      LastModifiedDate: v.modified,
      ARN: this.arn(name),
      DataType: 'text',
    };
  }

  protected operation(op: string, input: Record<string, unknown>): unknown {
    const decrypt = input.WithDecryption === true;
    switch (op) {
      case 'PutParameter': {
        const name = str(input, 'Name', true);
        const value = str(input, 'Value', true);
        const existing = this.params.get(name);
        const type = str(input, 'Type') ?? existing?.versions.get(existing.current)?.type;
        if (type === undefined || !TYPES.has(type))
          throw new AwsError(
            'ValidationException',
            'A parameter type is required when you create a parameter.',
          );
        if (value.length === 0 || value.length > 4096)
          throw new AwsError(
            'ValidationException',
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length between 1 and 4096",
          );
        if (existing !== undefined && input.Overwrite !== true)
          throw new AwsError(
            'ParameterAlreadyExists',
            'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
          );
        const p = existing ?? { versions: new Map(), current: 0 };
        if (p.versions.size >= this.maxVersions) {
          const oldest = Math.min(...p.versions.keys());
          if ((p.versions.get(oldest)?.labels.length ?? 0) > 0)
            throw new AwsError(
              'ParameterMaxVersionLimitExceeded',
              `You attempted to create a new version of ${name} by calling the PutParameter API with the overwrite flag. Version ${oldest}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.`,
            );
          p.versions.delete(oldest);
        }
        p.current += 1;
        p.versions.set(p.current, {
          value,
          type,
          labels: [],
          modified: epochSeconds(),
          description: str(input, 'Description') ?? '',
          ciphertext: randomBytes(48).toString('base64'),
        });
        this.params.set(name, p);
        return { Version: p.current, Tier: 'Standard' };
      }
      case 'GetParameter': {
        const { name, n, v, selector } = this.select(str(input, 'Name', true));
        return { Parameter: this.shown(name, n, v, decrypt, selector) };
      }
      case 'GetParameters': {
        const names = Array.isArray(input.Names) ? input.Names.map(String) : [];
        if (names.length < 1 || names.length > 10)
          throw new AwsError(
            'ValidationException',
            "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10",
          );
        const Parameters: unknown[] = [];
        const InvalidParameters: string[] = [];
        for (const asked of names) {
          try {
            const { name, n, v, selector } = this.select(asked);
            Parameters.push(this.shown(name, n, v, decrypt, selector));
          } catch (e) {
            if (!(e instanceof AwsError)) throw e;
            InvalidParameters.push(asked);
          }
        }
        return { Parameters, InvalidParameters };
      }
      case 'GetParametersByPath': {
        const path = str(input, 'Path', true);
        if (!path.startsWith('/'))
          throw new AwsError(
            'ValidationException',
            'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
          );
        const prefix = path.endsWith('/') ? path : `${path}/`;
        const max = typeof input.MaxResults === 'number' ? input.MaxResults : 10;
        if (max < 1 || max > 10)
          throw new AwsError(
            'ValidationException',
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10",
          );
        const names = [...this.params.keys()]
          .filter(
            (n) =>
              n.startsWith(prefix) && (input.Recursive === true || !n.slice(prefix.length).includes('/')),
          )
          .sort();
        const start = Number(str(input, 'NextToken') ?? 0);
        const page = names.slice(start, start + max);
        return {
          Parameters: page.map((name) => {
            const p = this.params.get(name)!;
            return this.shown(name, p.current, p.versions.get(p.current)!, decrypt);
          }),
          ...(start + max < names.length ? { NextToken: String(start + max) } : {}),
        };
      }
      case 'GetParameterHistory': {
        const name = str(input, 'Name', true);
        const p = this.params.get(name);
        if (p === undefined) throw new AwsError('ParameterNotFound', '');
        const max = typeof input.MaxResults === 'number' ? input.MaxResults : 50;
        if (max < 1 || max > 50)
          throw new AwsError(
            'ValidationException',
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50",
          );
        const all = [...p.versions].sort(([a], [b]) => a - b);
        const start = Number(str(input, 'NextToken') ?? 0);
        return {
          Parameters: all.slice(start, start + max).map(([n, v]) => ({
            Name: name,
            Type: v.type,
            Value: v.type === 'SecureString' && !decrypt ? v.ciphertext : v.value,
            Version: n,
            Labels: [...v.labels],
            LastModifiedDate: v.modified,
            LastModifiedUser: `arn:aws:iam::${ACCOUNT}:user/stand-in`,
            Description: v.description,
            Tier: 'Standard',
            Policies: [],
            DataType: 'text',
          })),
          ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
        };
      }
      case 'LabelParameterVersion': {
        const name = str(input, 'Name', true);
        const p = this.params.get(name);
        if (p === undefined) throw new AwsError('ParameterNotFound', '');
        const n = typeof input.ParameterVersion === 'number' ? input.ParameterVersion : p.current;
        const v = p.versions.get(n);
        if (v === undefined)
          throw new AwsError(
            'ParameterVersionNotFound',
            `Systems Manager could not find version ${n} of ${name}. Verify the version and try again.`,
          );
        const labels = Array.isArray(input.Labels) ? input.Labels.map(String) : [];
        if (labels.length < 1 || labels.length > 10)
          throw new AwsError(
            'ValidationException',
            "1 validation error detected: Value at 'labels' failed to satisfy constraint: Member must have length between 1 and 10",
          );
        const valid = labels.filter(validLabel);
        const merged = new Set([...v.labels, ...valid]);
        if (merged.size > 10)
          throw new AwsError(
            'ParameterVersionLabelLimitExceeded',
            'A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.',
          );
        // A label is on one version of a parameter: applying it here moves it.
        for (const [m, other] of p.versions)
          if (m !== n) other.labels = other.labels.filter((l) => !valid.includes(l));
        v.labels = [...merged];
        return { InvalidLabels: labels.filter((l) => !validLabel(l)), ParameterVersion: n };
      }
      case 'DeleteParameter': {
        const name = str(input, 'Name', true);
        if (!this.params.delete(name)) throw new AwsError('ParameterNotFound', '');
        return {};
      }
      default:
        throw new AwsError('UnknownOperationException', `The stand-in does not serve ${op}.`);
    }
  }
}

export interface SsmStandIn extends RunningStandIn {
  readonly handler: SsmHandler;
}

/**
 * Starts an SSM Parameter Store stand-in on 127.0.0.1; point the SDK's `endpoint` at `url`.
 *
 * @example
 * const ssm = await startSsmStandIn({ region: 'eu-west-1' });
 * const client = new SSMClient({ region: 'eu-west-1', endpoint: ssm.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
 */
export async function startSsmStandIn(options: SsmStandInOptions = {}): Promise<SsmStandIn> {
  const handler = new SsmHandler(options);
  return Object.assign(await serveStandIn(handler, options), { handler });
}
