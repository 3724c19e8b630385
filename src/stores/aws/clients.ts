/**
 * The AWS SDK v3 clients of the aws-ssm and aws-secretsmanager stores, made one way: `region`, an
 * optional `endpoint` (tests, VPC endpoints; else the SDK's own AWS_ENDPOINT_URL /
 * AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER), the default credential chain, and the
 * SDK's standard retry strategy (exponential backoff with jitter on ThrottlingException, 5xx and
 * network errors; never on AccessDenied or other client errors). {@link awsCall} bounds the total
 * time of one call, retries included, and turns SDK errors into one-line RekeyErrors.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { RekeyError } from '../../lib/errors.js';
import { isLoopback } from '../../lib/loopback.js';

export interface AwsClientConfig {
  readonly region?: string;
  readonly endpoint?: string;
  /** Static credentials (tests); the default credential chain when absent. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Attempts per call, the first included (default 5). */
  readonly maxAttempts?: number;
}

/** Default bound on one call, retries and backoff included. */
export const AWS_CALL_TIMEOUT_MS = 30_000;

function options(config: AwsClientConfig, serviceEnv: string) {
  // The SDK's documented switch for its Node 20 end-of-support warning (aws-sdk-js-v3#7983), which
  // would otherwise reach rekey's stderr on every run; an operator's own setting wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = config.endpoint ?? process.env[serviceEnv] ?? process.env.AWS_ENDPOINT_URL;
  if (endpoint !== undefined && endpoint !== '') {
    const url = new URL(endpoint);
    if (url.protocol === 'http:' && !isLoopback(url.hostname))
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `aws: endpoint ${url.host} over plain http would send the values in clear text`,
        {
          hint: 'Use an https:// endpoint (http:// is accepted for 127.0.0.1, ::1 and localhost only).',
        },
      );
  }
  return {
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.credentials === undefined ? {} : { credentials: { ...config.credentials } }),
    retryMode: 'standard',
    maxAttempts: config.maxAttempts ?? 5,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
  };
}

/**
 * An SSM client for the aws-ssm store.
 *
 * @example
 * const ssm = ssmClient({ region: 'eu-west-1' }); // default credential chain
 */
export function ssmClient(config: AwsClientConfig): SSMClient {
  return new SSMClient(options(config, 'AWS_ENDPOINT_URL_SSM'));
}

/** A Secrets Manager client for the aws-secretsmanager store. */
export function secretsManagerClient(config: AwsClientConfig): SecretsManagerClient {
  return new SecretsManagerClient(options(config, 'AWS_ENDPOINT_URL_SECRETS_MANAGER'));
}

const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'CredentialsProviderError',
  'IncompleteSignatureException',
]);
const UNREACHABLE = new Set([
  'ThrottlingException',
  'TimeoutError',
  'AbortError',
  'InternalServerError',
  'InternalServiceError',
]);

/**
 * Runs one SDK call with a bound on its total time (the SDK retries inside it), and maps a failure to
 * a RekeyError: ERR_STORE_AUTH (denied, bad credentials), ERR_STORE_UNREACHABLE (throttled, 5xx,
 * network, timeout, after the SDK's retries), else ERR_STORE_REJECTED with the service's error type.
 * Errors named in `pass` (e.g. `ParameterNotFound`) are rethrown as they are, for the caller to handle.
 *
 * @example
 * const out = await awsCall('aws-ssm', 'PutParameter /bi/prod/JWT', (abortSignal) => ssm.send(cmd, { abortSignal }));
 */
export async function awsCall<T>(
  store: string,
  what: string,
  run: (abortSignal: AbortSignal) => Promise<T>,
  pass: readonly string[] = [],
  timeoutMs = AWS_CALL_TIMEOUT_MS,
): Promise<T> {
  try {
    return await run(AbortSignal.timeout(timeoutMs));
  } catch (e) {
    const name = e instanceof Error ? e.name : 'Error';
    if (pass.includes(name)) throw e;
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (AUTH_ERRORS.has(name))
      throw new RekeyError('ERR_STORE_AUTH', `${store}: ${what}: ${name}`, {
        hint:
          name === 'AccessDeniedException'
            ? "Grant rekey's AWS identity the action named on that resource (docs/stores.md lists each store's IAM actions)."
            : 'Check the AWS credentials rekey runs with (profile, environment, instance role) and their region.',
      });
    if (UNREACHABLE.has(name) || (status !== undefined && status >= 500) || status === undefined)
      throw new RekeyError(
        'ERR_STORE_UNREACHABLE',
        `${store}: ${what}: ${name}${status === undefined ? '' : ` (HTTP ${status})`}`,
        {
          cause: e,
        },
      );
    throw new RekeyError('ERR_STORE_REJECTED', `${store}: ${what}: ${name}`, { cause: e });
  }
}
