/**
 * `rekey migrate --to kubernetes`: the first copy of the values into one Secret. An existing Secret
 * is merge-patched at the resourceVersion read (another writer → 409 → ERR_STORE_CONFLICT), its other
 * keys kept; a missing one is created (someone creating it meanwhile → 409 AlreadyExists → conflict).
 * RBAC is asked first (SelfSubjectAccessReview): get, and patch or create, on the Secret.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubernetesStoreConfig } from '../../config/store.js';
import type { Values } from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import {
  canI,
  connectKube,
  isStatus,
  type KubeOptions,
  kubeError,
  MERGE_PATCH,
  withRetry,
} from '../../lib/kube.js';
import { externalSecretOwner } from '../../lib/kube-watchers.js';
import type { StoreSeeder } from '../seed.js';

const encode = (v: string) => Buffer.from(v, 'utf8').toString('base64');

/**
 * @example
 * const seeder = kubernetesSeeder({ type: 'kubernetes', namespace: 'bi', name: 'bi-secrets' });
 * await seeder.check(); await seeder.read(['JWT_SECRET']); await seeder.write({ JWT_SECRET: '…' });
 */
export function kubernetesSeeder(
  config: KubernetesStoreConfig,
  options: Omit<KubeOptions, 'context'> = {},
): StoreSeeder {
  const kube = connectKube({
    ...options,
    ...(config.context === undefined ? {} : { context: config.context }),
  });
  const { namespace, name } = config;
  const where = `Secret ${namespace}/${name}`;
  /** The last read: the resourceVersion to patch at, or null when the Secret does not exist. */
  let seen: string | null | undefined;
  const current = async (): Promise<V1Secret | undefined> => {
    try {
      return await withRetry(kube, () => kube.core.readNamespacedSecret({ name, namespace }));
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw kubeError(e, `reading ${where}`);
    }
  };
  const may = (verb: string) => canI(kube, { verb, group: '', resource: 'secrets', namespace, name });
  return {
    name: `Kubernetes ${where} (${kube.context}, ${kube.server})`,
    async check() {
      const s = (await may('get')) ? await current() : undefined;
      const verbs = ['get', s === undefined ? 'create' : 'patch'];
      const missing: string[] = [];
      for (const verb of verbs) if (!(await may(verb))) missing.push(verb);
      if (missing.length > 0)
        throw new RekeyError(
          'ERR_STORE_AUTH',
          `kubernetes: rekey may not ${missing.join(' or ')} ${where} (SelfSubjectAccessReview)`,
          {
            hint: `Grant its Role in namespace ${namespace} the rule { apiGroups: [""], resources: ["secrets"], verbs: ["get", "patch", "create"] } (create only for the first copy; \`resourceNames\` cannot limit create).`,
          },
        );
      if (s?.immutable === true)
        throw new RekeyError('ERR_STORE_UNSUITABLE', `kubernetes: ${where} is immutable`, {
          hint: 'An immutable Secret cannot be rotated in place: recreate it without `immutable: true`.',
        });
      const eso = externalSecretOwner(s?.metadata);
      if (eso !== undefined)
        throw new RekeyError(
          'ERR_STORE_UNSUITABLE',
          `kubernetes: ${where} is written by External Secrets Operator (ExternalSecret ${eso})`,
          { hint: "Migrate to the ExternalSecret's source (vault-kv, aws-ssm, aws-secretsmanager) instead." },
        );
    },
    async read(keys) {
      const s = await current();
      seen = s === undefined ? null : String(s.metadata?.resourceVersion ?? '');
      const out = new Map<string, string>();
      for (const k of keys) {
        const v = s?.data?.[k];
        if (v !== undefined) out.set(k, Buffer.from(v, 'base64').toString('utf8'));
      }
      return out;
    },
    async write(values: Values) {
      if (seen === undefined) throw new Error('kubernetesSeeder: write before read');
      const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, encode(v)]));
      try {
        if (seen === null) {
          const created = await kube.core.createNamespacedSecret({
            namespace,
            body: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', data },
          });
          seen = String(created.metadata?.resourceVersion ?? '');
          return `${where} created (resourceVersion ${seen})`;
        }
        const rv = seen;
        const patched = await withRetry(kube, () =>
          kube.core.patchNamespacedSecret(
            { name, namespace, body: { metadata: { resourceVersion: rv }, data } },
            MERGE_PATCH,
          ),
        );
        seen = String(patched.metadata?.resourceVersion ?? '');
        return `${where} patched (resourceVersion ${seen})`;
      } catch (e) {
        const err = kubeError(e, `writing ${where}`);
        if (err.code !== 'ERR_STORE_CONFLICT') throw err;
        throw new RekeyError(
          'ERR_STORE_CONFLICT',
          `kubernetes: another writer changed ${where} meanwhile; nothing was migrated`,
          {
            hint: 'Run `rekey migrate` again: it reads the Secret anew.',
          },
        );
      }
    },
  };
}
