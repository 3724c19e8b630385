/**
 * What other controllers do with a Secret rekey writes, read from its metadata and the workloads'
 * (no call is made here): External Secrets Operator owns it (and writes its source's values back), or
 * Stakater Reloader restarts the workloads that use it when it changes (annotations as documented in
 * Reloader's annotation reference: https://docs.stakater.com/reloader/ "Annotation Reference").
 * Shared by the kubernetes store (its preflight and plan) and the kubernetes deployer.
 */
import type { V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';

/** Reloader's annotations rekey recognises. */
export const RELOADER = {
  /** Workload: restart when any ConfigMap or Secret it uses changes. */
  auto: 'reloader.stakater.com/auto',
  /** Workload: restart when any Secret it uses changes. */
  secretAuto: 'secret.reloader.stakater.com/auto',
  /** Workload: restart when one of these Secrets (comma-separated names) changes. */
  secretReload: 'secret.reloader.stakater.com/reload',
  /** Workload: restart when a Secret it uses and annotated {@link RELOADER.match} changes. */
  search: 'reloader.stakater.com/search',
  /** Secret: matched by workloads annotated {@link RELOADER.search}. */
  match: 'reloader.stakater.com/match',
} as const;

/**
 * The ExternalSecret that owns a Secret (External Secrets Operator writes it from its source), if any.
 *
 * @example
 * externalSecretOwner(secret.metadata); // 'bi-secrets' (ExternalSecret name)
 */
export function externalSecretOwner(meta: V1ObjectMeta | undefined): string | undefined {
  const owner = (meta?.ownerReferences ?? []).find(
    (o) => o.kind === 'ExternalSecret' && (o.apiVersion ?? '').startsWith('external-secrets.io/'),
  );
  return owner?.name;
}

/** Whether the pod template reads the Secret (env, envFrom, a volume, a projected volume). */
export function usesSecret(pod: V1PodSpec | undefined, name: string): boolean {
  if (pod === undefined) return false;
  const containers = [...(pod.containers ?? []), ...(pod.initContainers ?? [])];
  return (
    containers.some(
      (c) =>
        (c.env ?? []).some((e) => e.valueFrom?.secretKeyRef?.name === name) ||
        (c.envFrom ?? []).some((e) => e.secretRef?.name === name),
    ) ||
    (pod.volumes ?? []).some(
      (v) =>
        v.secret?.secretName === name || (v.projected?.sources ?? []).some((s) => s.secret?.name === name),
    )
  );
}

/**
 * The Reloader annotation that makes Reloader restart this workload when the Secret changes, or
 * undefined when Reloader leaves it alone.
 *
 * @example
 * reloaderRestarts(deployment.metadata, deployment.spec.template.spec, secret.metadata);
 * // 'reloader.stakater.com/auto: "true"'
 */
export function reloaderRestarts(
  workload: V1ObjectMeta | undefined,
  pod: V1PodSpec | undefined,
  secret: V1ObjectMeta,
): string | undefined {
  const a = workload?.annotations ?? {};
  const name = secret.name ?? '';
  const on = (key: string) => a[key]?.trim().toLowerCase() === 'true';
  const listed = (a[RELOADER.secretReload] ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(name);
  if (listed) return `${RELOADER.secretReload}: "${a[RELOADER.secretReload]}"`;
  if (!usesSecret(pod, name)) return undefined;
  // An explicit "false" turns auto off for the workload (even with Reloader's --auto-reload-all).
  if (on(RELOADER.auto)) return `${RELOADER.auto}: "true"`;
  if (on(RELOADER.secretAuto)) return `${RELOADER.secretAuto}: "true"`;
  if (on(RELOADER.search) && secret.annotations?.[RELOADER.match]?.trim().toLowerCase() === 'true')
    return `${RELOADER.search}: "true" (the Secret has ${RELOADER.match}: "true")`;
  return undefined;
}
