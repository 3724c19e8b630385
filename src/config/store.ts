/**
 * The `store:` section of rekey.yaml (DESIGN.md, "Stores"): where the app reads its secrets when it
 * is not the env file. One schema per managed store, told apart by `type`; paths are relative to the
 * config like every other path. Below the adapters (src/stores/ read their own section from here).
 *
 * @example
 * store: { type: vault-kv, address: "http://127.0.0.1:8200", mount: secret, path: bi/production }
 * store: { type: aws-ssm, prefix: /bi/production/, region: eu-west-1 }
 * store: { type: aws-secretsmanager, secretId: bi/production, region: eu-west-1 }
 * store: { type: kubernetes, namespace: bi, name: bi-secrets, context: prod }
 */
import { z } from 'zod';
import { parseDuration } from '../lib/duration.js';
import { duration } from './pieces.js';

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' });
/** A KV path segment list: no leading or trailing slash, no `..`. */
const kvPath = z
  .string()
  .min(1)
  .regex(/^[^/](?:.*[^/])?$/, 'must not start or end with "/"')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

export const vaultKvStoreSchema = z.strictObject({
  type: z.literal('vault-kv'),
  /** Vault's address; VAULT_ADDR when absent. */
  address: url.optional(),
  /** The KV v2 mount (default `secret`). */
  mount: kvPath.default('secret'),
  /** The secret's path under the mount; one field per managed key. */
  path: kvPath,
  /** Vault Enterprise namespace; VAULT_NAMESPACE when absent. */
  namespace: z.string().min(1).optional(),
  /** A file holding the token (else VAULT_TOKEN, else ~/.vault-token). */
  tokenFile: z.string().min(1).optional(),
  /** AppRole login instead of a token. */
  appRole: z
    .strictObject({
      roleId: z.string().min(1),
      secretIdFile: z.string().min(1),
      mount: kvPath.default('approle'),
    })
    .optional(),
});

/** SSM parameter names: letters, digits and `_.-/`; a prefix is a path, `/` at both ends. */
export const awsSsmStoreSchema = z.strictObject({
  type: z.literal('aws-ssm'),
  /** Parameters are `<prefix><KEY>`, one SecureString per managed key. */
  prefix: z
    .string()
    .regex(
      /^\/(?:[A-Za-z0-9_.-]+\/)*$/,
      'must be a parameter path starting and ending with "/", e.g. /bi/production/',
    )
    .refine((p) => !/^\/(aws|ssm)/i.test(p), 'must not start with /aws or /ssm (reserved by AWS)'),
  region: z.string().min(1).optional(),
  /** For tests and VPC endpoints; AWS_ENDPOINT_URL(_SSM) when absent. */
  endpoint: url.optional(),
  /** KMS key for SecureString parameters (default: the account's aws/ssm key). */
  kmsKeyId: z.string().min(1).optional(),
});

export const awsSecretsManagerStoreSchema = z.strictObject({
  type: z.literal('aws-secretsmanager'),
  /** The secret's name or ARN; its SecretString is a JSON object with a field per managed key. */
  secretId: z.string().min(1).max(2048),
  region: z.string().min(1).optional(),
  endpoint: url.optional(),
});

/** A namespace: a DNS-1123 label. */
const k8sLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lower-case letters, digits, "-")');
/** An object name: a DNS-1123 subdomain. */
const k8sName = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/,
    'must be a DNS-1123 subdomain (lower-case letters, digits, "-" and ".")',
  );

export const kubernetesStoreSchema = z.strictObject({
  type: z.literal('kubernetes'),
  /** The Secret's namespace. */
  namespace: k8sLabel,
  /** The Secret's name; one data key per managed key, other keys untouched. */
  name: k8sName,
  /** The kubeconfig context (KUBECONFIG, else ~/.kube/config); its current context when absent, in-cluster when there is no kubeconfig. */
  context: z.string().min(1).optional(),
  /**
   * The lock across pods: a coordination.k8s.io/v1 Lease in the Secret's namespace, taken by rotate,
   * rollback, recover and schedule. `name` defaults to `rekey-<Secret name>`; `duration` (default 60s,
   * 5s to 1h) is how long a killed run keeps it (renewed every third of it while running).
   */
  lease: z
    .strictObject({
      name: k8sName.optional(),
      duration: duration
        .refine((d) => {
          const ms = parseDuration(d) ?? 0;
          return ms >= 5000 && ms <= 3_600_000 && ms % 1000 === 0;
        }, 'must be whole seconds from 5s to 1h')
        .optional(),
    })
    .optional(),
});

export const storeSchema = z.discriminatedUnion('type', [
  vaultKvStoreSchema,
  awsSsmStoreSchema,
  awsSecretsManagerStoreSchema,
  kubernetesStoreSchema,
]);

export type VaultKvStoreConfig = z.infer<typeof vaultKvStoreSchema>;
export type AwsSsmStoreConfig = z.infer<typeof awsSsmStoreSchema>;
export type AwsSecretsManagerStoreConfig = z.infer<typeof awsSecretsManagerStoreSchema>;
export type KubernetesStoreConfig = z.infer<typeof kubernetesStoreSchema>;
export type StoreConfig = z.infer<typeof storeSchema>;
/** The `type` values of the managed stores. */
export const STORE_TYPES = ['vault-kv', 'aws-ssm', 'aws-secretsmanager', 'kubernetes'] as const;

/**
 * A store stack's identity, in place of an env file's real path: what keys its state directory and
 * binds its change requests. Stable across folders and hosts for the same store; no secret.
 *
 * @example
 * storeIdentity({ type: 'aws-ssm', prefix: '/bi/production/', region: 'eu-west-1' });
 * // 'aws-ssm:eu-west-1:/bi/production/'
 */
export function storeIdentity(store: StoreConfig, env: NodeJS.ProcessEnv = process.env): string {
  const region = (r: string | undefined) => r ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? '';
  switch (store.type) {
    case 'vault-kv': {
      const address = (store.address ?? env.VAULT_ADDR ?? '').replace(/\/+$/, '');
      const namespace = store.namespace ?? env.VAULT_NAMESPACE;
      return `vault-kv:${address}/${namespace ? `${namespace}/` : ''}${store.mount}/${store.path}`;
    }
    case 'aws-ssm':
      return `aws-ssm:${region(store.region)}:${store.prefix}`;
    case 'aws-secretsmanager':
      return `aws-secretsmanager:${region(store.region)}:${store.secretId}`;
    case 'kubernetes':
      return `kubernetes:${store.context ?? ''}:${store.namespace}/${store.name}`;
  }
}
