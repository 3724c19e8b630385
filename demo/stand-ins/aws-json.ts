/**
 * AWS JSON 1.1 protocol for the SSM and Secrets Manager stand-ins (tests and the demo), from the
 * Smithy `awsJson1_1` protocol documentation
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html): every call is `POST /` with
 * `X-Amz-Target: <Service>.<Operation>` and `Content-Type: application/x-amz-json-1.1`; a result is
 * a JSON object; an error is a 4xx/5xx with `{"__type": "<ErrorType>", "message": "..."}`;
 * timestamps are epoch seconds (numbers).
 *
 * Authentication is checked as far as a stand-in can: the SigV4 `Authorization` header must name a
 * known access key id (else `UnrecognizedClientException`), and a key may be denied operations
 * (`AccessDeniedException`). Signatures are not verified.
 */
import { randomUUID } from 'node:crypto';
import type { Answer, Classified, FaultKind, Handler, StandInRequest } from './harness.js';

export const ACCOUNT = '123456789012';

/** An AWS error: its `__type`, message and HTTP status (400 unless a server error). */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface AwsAuthOptions {
  /** Access key ids accepted (default: any). */
  readonly accessKeyIds?: readonly string[];
  /** Access key id → operations it may not call (AccessDeniedException). */
  readonly deny?: Readonly<Record<string, readonly string[]>>;
  readonly region?: string;
}

/** `epoch seconds` as AWS JSON sends timestamps (a number, fractional allowed). */
export const epochSeconds = (ms = Date.now()) => Math.round(ms) / 1000;

/** One service behind the AWS JSON 1.1 protocol: its target prefix, operations and write operations. */
export abstract class AwsJsonHandler implements Handler {
  readonly contentType = 'application/x-amz-json-1.1';
  protected abstract readonly targetPrefix: string;
  /** The IAM action prefix (`ssm`, `secretsmanager`). */
  protected abstract readonly service: string;
  /** Operations that write a stored value. */
  protected abstract readonly writes: ReadonlySet<string>;
  /** The `__type` of a 5xx (SSM: InternalServerError; Secrets Manager: InternalServiceError). */
  protected abstract readonly internalErrorType: string;
  protected abstract operation(op: string, input: Record<string, unknown>): unknown;

  constructor(protected readonly auth: AwsAuthOptions = {}) {}

  get region(): string {
    return this.auth.region ?? 'us-east-1';
  }

  classify(req: StandInRequest): Classified {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(`${this.targetPrefix}.`)
      ? target.slice(this.targetPrefix.length + 1)
      : target;
    return { op, write: this.writes.has(op) };
  }

  fault(kind: Exclude<FaultKind, 'drop'>, op: string): Answer {
    switch (kind) {
      case 'throttle':
        return this.error(new AwsError('ThrottlingException', 'Rate exceeded'));
      case 'error500':
        return this.error(new AwsError(this.internalErrorType, 'An internal error occurred.', 500));
      case 'denied':
        return this.error(this.accessDenied(op));
      case 'conflict':
        // AWS has no CAS error on these operations: a conflict is another writer, which tests make
        // through the API. A queued `conflict` answers as a concurrent modification would.
        return this.error(
          new AwsError('ConcurrentModificationException', 'Another request is modifying this resource.'),
        );
    }
  }

  private accessDenied(op: string): AwsError {
    return new AwsError(
      'AccessDeniedException',
      `User: arn:aws:iam::${ACCOUNT}:user/stand-in is not authorized to perform: ${this.service}:${op}`,
    );
  }

  private error(e: AwsError): Answer {
    return { status: e.status, body: { __type: e.type, message: e.message } };
  }

  handle(req: StandInRequest, op: string): Answer {
    if (req.method !== 'POST' || req.url.pathname !== '/')
      return this.error(new AwsError('UnknownOperationException', 'Only POST / is served.', 404));
    const keyId = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    if (keyId === undefined)
      return this.error(new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token'));
    if (this.auth.accessKeyIds !== undefined && !this.auth.accessKeyIds.includes(keyId))
      return this.error(
        new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
      );
    if (this.auth.deny?.[keyId]?.includes(op)) return this.error(this.accessDenied(op));
    const input = req.json;
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      return this.error(
        new AwsError('SerializationException', 'Start of structure or map found where not expected.'),
      );
    try {
      return { status: 200, body: this.operation(op, input as Record<string, unknown>) ?? {} };
    } catch (e) {
      if (e instanceof AwsError) return this.error(e);
      throw e;
    }
  }
}

/** A required string member, or a ValidationException naming it. */
export function str(input: Record<string, unknown>, name: string, required: true): string;
export function str(input: Record<string, unknown>, name: string, required?: false): string | undefined;
export function str(input: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) {
    if (required)
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value null at '${name[0]?.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
      );
    return undefined;
  }
  if (typeof v !== 'string') throw new AwsError('SerializationException', `${name} must be a string`);
  return v;
}

export const requestId = () => randomUUID();
