/**
 * The demo app's secret store read (the `rekey demo --store …` variants): at start, a worker reads
 * its secrets from the store the env file names and lays them over the env file's values. The env
 * file names where, never a secret:
 * - Vault KV v2: VAULT_ADDR, VAULT_KV_MOUNT, VAULT_KV_PATH, VAULT_TOKEN_FILE (demo/app/vault.ts);
 * - AWS SSM Parameter Store: AWS_SSM_PREFIX (one SecureString parameter per key under it), with
 *   AWS_REGION and AWS_ENDPOINT_URL;
 * - AWS Secrets Manager: AWS_SECRET_ID (its SecretString a JSON object, a field per key), with
 *   AWS_REGION and AWS_ENDPOINT_URL.
 * The AWS reads use the official SDK v3 clients and their default credential chain (the app's
 * environment, an instance role in real life). Errors name the location and the service's error
 * type, never a value.
 */
import { readVaultFields } from './vault.js';

export type AppStore = 'vault-kv' | 'aws-ssm' | 'aws-secretsmanager';

/**
 * Which store the env file asks for, if any.
 *
 * @example
 * storeOf(new Map([['AWS_SSM_PREFIX', '/bi/app/']])); // 'aws-ssm'
 */
export function storeOf(values: ReadonlyMap<string, string>): AppStore | undefined {
  const set = (key: string) => (values.get(key) ?? '') !== '';
  if (set('VAULT_ADDR')) return 'vault-kv';
  if (set('AWS_SSM_PREFIX')) return 'aws-ssm';
  if (set('AWS_SECRET_ID')) return 'aws-secretsmanager';
  return undefined;
}

/**
 * The store's fields (strings only) for the env file's `values`; `dir` resolves relative files.
 *
 * @example
 * const fields = await readStoreFields(values, '/srv/bi'); // Map { 'JWT_SECRET' => '…', … }
 */
export async function readStoreFields(
  values: ReadonlyMap<string, string>,
  dir: string,
): Promise<Map<string, string>> {
  switch (storeOf(values)) {
    case 'vault-kv':
      return readVaultFields(values, dir);
    case 'aws-ssm':
      return readSsmFields(values);
    case 'aws-secretsmanager':
      return readSecretsManagerFields(values);
    default:
      return new Map();
  }
}

/** Region and endpoint from the env file, for an SDK client. */
function awsLocation(values: ReadonlyMap<string, string>) {
  // The SDK's documented switch for its Node 20 end-of-support warning, which would reach the app log.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const region = values.get('AWS_REGION') ?? '';
  const endpoint = values.get('AWS_ENDPOINT_URL') ?? '';
  if (region === '') throw new Error('AWS_REGION is needed with an AWS store');
  return { region, ...(endpoint === '' ? {} : { endpoint }), maxAttempts: 3 };
}

/** `what failed: ErrorType`, never the error's message (an SDK message may quote the request). */
const awsFailure = (what: string, e: unknown) => new Error(`${what}: ${(e as Error).name ?? 'error'}`);

async function readSsmFields(values: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const { SSMClient, paginateGetParametersByPath } = await import('@aws-sdk/client-ssm');
  const prefix = values.get('AWS_SSM_PREFIX') ?? '';
  const client = new SSMClient(awsLocation(values));
  const fields = new Map<string, string>();
  try {
    for await (const page of paginateGetParametersByPath(
      { client },
      { Path: prefix, WithDecryption: true, Recursive: false },
    ))
      for (const p of page.Parameters ?? [])
        if (p.Name?.startsWith(prefix) && typeof p.Value === 'string')
          fields.set(p.Name.slice(prefix.length), p.Value);
  } catch (e) {
    throw awsFailure(`SSM GetParametersByPath ${prefix}`, e);
  } finally {
    client.destroy();
  }
  return fields;
}

async function readSecretsManagerFields(values: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const secretId = values.get('AWS_SECRET_ID') ?? '';
  const client = new SecretsManagerClient(awsLocation(values));
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (e) {
    throw awsFailure(`Secrets Manager GetSecretValue ${secretId}`, e);
  } finally {
    client.destroy();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`Secrets Manager ${secretId}: the SecretString is not a JSON object`);
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') fields.set(key, value);
  return fields;
}
