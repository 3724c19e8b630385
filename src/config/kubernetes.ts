/**
 * The `deploy.kubernetes` piece of rekey.yaml (DESIGN.md, "Kubernetes deploy"): which workloads to
 * restart, in order, in which namespace, and how long the whole rollout may take. Below the deploy
 * adapter that reads it (src/deploy/kubernetes.ts).
 *
 * @example
 * deploy:
 *   kubernetes: { namespace: bi, workloads: [deployment/bi-api, statefulset/bi-worker], timeout: 5m }
 */
import { z } from 'zod';
import { duration } from './pieces.js';

const label = z
  .string()
  .max(63)
  .regex(/^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lower-case letters, digits, "-")');

/** `deployment/<name>` or `statefulset/<name>` (kubectl's TYPE/NAME; `deploy` and `sts` accepted). */
const workload = z
  .string()
  .regex(
    /^(deployment|deploy|statefulset|sts)\/[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/,
    'must be deployment/<name> or statefulset/<name>',
  );

export const kubernetesDeploySchema = z.strictObject({
  namespace: label,
  /** Restarted one after another in this order, each rolled out before the next. */
  workloads: z
    .array(workload)
    .min(1)
    .refine(
      (list) => new Set(list.map((w) => JSON.stringify(parseWorkload(w)))).size === list.length,
      'names a workload twice (each is restarted once, in the listed order)',
    ),
  /** The whole deploy (every workload's rollout) must finish within it. */
  timeout: duration.default('5m'),
  /** The kubeconfig context (the current one when absent; in-cluster without a kubeconfig). */
  context: z.string().min(1).optional(),
  /**
   * External Secrets Operator: the ExternalSecret (in `namespace`) that writes the workloads' Secret
   * from the stack's `store:` (Vault KV, SSM, Secrets Manager). Before any restart rekey forces its
   * sync (the `force-sync` annotation) and waits, within `timeout`, for the Secret to be written.
   */
  externalSecret: z
    .string()
    .max(253)
    .regex(
      /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/,
      'must be a DNS-1123 subdomain (an object name)',
    )
    .optional(),
});

export type KubernetesDeployConfig = z.infer<typeof kubernetesDeploySchema>;

/** A workload of the list, parsed: `deploy/x` → `{ kind: 'deployment', name: 'x' }`. */
export function parseWorkload(text: string): { kind: 'deployment' | 'statefulset'; name: string } {
  const [kind = '', name = ''] = text.split('/');
  return { kind: kind === 'deploy' || kind === 'deployment' ? 'deployment' : 'statefulset', name };
}
