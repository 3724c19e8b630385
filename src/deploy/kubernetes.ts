/**
 * The `Deployer` port as Kubernetes rollouts (DESIGN.md, "Kubernetes deploy"): each listed workload is
 * restarted like `kubectl rollout restart` (the pod template's `kubectl.kubernetes.io/restartedAt`
 * annotation) and waited for like `kubectl rollout status` (generation observed, every replica
 * updated and available; `ProgressDeadlineExceeded` is a failure), one after another in the listed
 * order, each rolled out before the next, all within `timeout`. A paused Deployment is refused before
 * anything is restarted. Deploy and rollback are the same restart: the rollback's new pods read the
 * old values the store put back. The progress lines (kubectl's wording) are redacted and kept in the
 * log file; a failure carries the last ones.
 *
 * There is no process: `request.started` is never called (nothing for `recover` to wait for or end;
 * the cluster's controllers finish a rollout rekey started, and a re-run restarts again).
 */
import path from 'node:path';
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { type KubernetesDeployConfig, parseWorkload } from '../config/kubernetes.js';
import { ms } from '../config/load.js';
import type { Deployer, DeployRequest } from '../engine/ports.js';
import { outputDetails } from '../lib/command.js';
import { ERROR_CODES, isRekeyError, RekeyError } from '../lib/errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../lib/fsx.js';
import {
  canI,
  connectKube,
  isStatus,
  type Kube,
  type KubeOptions,
  kubeError,
  STRATEGIC_MERGE_PATCH,
  withRetry,
} from '../lib/kube.js';
import { redactor } from '../lib/redact.js';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export interface KubernetesDeployerOptions extends Omit<KubeOptions, 'context'> {
  /** Pause between status reads (default 1 s, as kubectl's watch would see changes). */
  readonly pollMs?: number;
}

type Kind = 'deployment' | 'statefulset';
interface Workload {
  readonly kind: Kind;
  readonly name: string;
}
/** One look at a rollout: done, or a line saying what it waits for; throws when it failed. */
interface Look {
  readonly done: boolean;
  readonly line: string;
}

/** `kubectl rollout status` for a Deployment (generation observed, replicas updated and available). */
export function deploymentStatus(d: V1Deployment, generation: number): Look {
  const name = d.metadata?.name ?? '';
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < generation)
    return { done: false, line: `Waiting for deployment "${name}" spec update to be observed...` };
  const progressing = (s.conditions ?? []).find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    throw new RekeyError('ERR_DEPLOY_FAILED', `deployment "${name}" exceeded its progress deadline`, {
      hint: `Its new pods did not become available: \`kubectl -n ${d.metadata?.namespace ?? ''} describe deployment ${name}\` says why.`,
    });
  const want = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const wait = (what: string) => ({
    done: false,
    line: `Waiting for deployment "${name}" rollout to finish: ${what}...`,
  });
  if (updated < want) return wait(`${updated} out of ${want} new replicas have been updated`);
  if ((s.replicas ?? 0) > updated)
    return wait(`${(s.replicas ?? 0) - updated} old replicas are pending termination`);
  if ((s.availableReplicas ?? 0) < updated)
    return wait(`${s.availableReplicas ?? 0} of ${updated} updated replicas are available`);
  return { done: true, line: `deployment "${name}" successfully rolled out` };
}

/** `kubectl rollout status` for a StatefulSet with the RollingUpdate strategy. */
export function statefulSetStatus(sts: V1StatefulSet, generation: number): Look {
  const name = sts.metadata?.name ?? '';
  const s = sts.status ?? { replicas: 0 };
  if ((s.observedGeneration ?? 0) === 0 || (s.observedGeneration ?? 0) < generation)
    return { done: false, line: `Waiting for statefulset "${name}" spec update to be observed...` };
  const want = sts.spec?.replicas ?? 1;
  if ((s.readyReplicas ?? 0) < want)
    return {
      done: false,
      line: `Waiting for ${want - (s.readyReplicas ?? 0)} pods of statefulset "${name}" to be ready...`,
    };
  if (s.updateRevision !== s.currentRevision)
    return {
      done: false,
      line: `waiting for statefulset "${name}" rolling update to complete ${s.updatedReplicas ?? 0} pods at revision ${s.updateRevision ?? ''}...`,
    };
  return {
    done: true,
    line: `statefulset "${name}" rolling update complete ${s.currentReplicas ?? want} pods at revision ${s.currentRevision ?? ''}`,
  };
}

/** A Kubernetes error inside a deploy: the deploy failed (its message says why). */
function deployError(e: unknown, what: string): RekeyError {
  if (isRekeyError(e) && e.code.startsWith('ERR_DEPLOY')) return e;
  const k = kubeError(e, what);
  // The connection's own hint (KUBECONFIG, a context, an http server) says what to do; an API
  // answer's code hint speaks of a store, so a deploy gets its own.
  const own = k.hint !== ERROR_CODES[k.code].hint;
  return new RekeyError('ERR_DEPLOY_FAILED', k.message, {
    ...(own
      ? { hint: k.hint }
      : k.code === 'ERR_STORE_AUTH'
        ? { hint: 'Grant rekey\'s Role get and patch on the workloads named (apiGroups: ["apps"]).' }
        : {}),
  });
}

/**
 * @example
 * const deployer = createKubernetesDeployer({ namespace: 'bi', workloads: ['deployment/bi-api'], timeout: '5m' });
 * await deployer.run('deploy', request);
 */
export function createKubernetesDeployer(
  config: KubernetesDeployConfig,
  options: KubernetesDeployerOptions = {},
): Deployer & { check(): Promise<void> } {
  const timeoutMs = ms(config.timeout);
  const pollMs = options.pollMs ?? 1000;
  const namespace = config.namespace;
  const workloads: Workload[] = config.workloads.map(parseWorkload);
  const names = workloads.map((w) => `${w.kind}/${w.name}`);
  const command = `rollout restart ${names.join(', then ')} in namespace ${namespace}`;
  const title = `restart ${names.join(', then ')} (namespace ${namespace}), each rolled out before the next, within ${config.timeout}`;
  let kube: Kube | undefined;
  const client = (): Kube => {
    if (kube === undefined) {
      try {
        kube = connectKube({
          ...options,
          ...(config.context === undefined ? {} : { context: config.context }),
        });
      } catch (e) {
        throw deployError(e, 'connecting');
      }
    }
    return kube;
  };

  const paused = (name: string, label?: string) =>
    new RekeyError(
      'ERR_DEPLOY_FAILED',
      `${label === undefined ? 'kubernetes' : label}: deployment/${name} is paused: rekey does not restart a paused Deployment`,
      {
        hint: `Resume it (\`kubectl -n ${namespace} rollout resume deployment/${name}\`) or remove it from deploy.kubernetes.workloads.`,
      },
    );

  const readRaw = (w: Workload): Promise<V1Deployment | V1StatefulSet> => {
    const k = client();
    return withRetry(k, () =>
      w.kind === 'deployment'
        ? k.apps.readNamespacedDeployment({ name: w.name, namespace })
        : k.apps.readNamespacedStatefulSet({ name: w.name, namespace }),
    );
  };
  const read = async (w: Workload): Promise<V1Deployment | V1StatefulSet> => {
    try {
      return await readRaw(w);
    } catch (e) {
      throw deployError(e, `reading ${w.kind}/${w.name}`);
    }
  };

  const restart = async (w: Workload, at: string): Promise<number> => {
    const k = client();
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } };
    try {
      const patched = await withRetry(k, () =>
        w.kind === 'deployment'
          ? k.apps.patchNamespacedDeployment({ name: w.name, namespace, body }, STRATEGIC_MERGE_PATCH)
          : k.apps.patchNamespacedStatefulSet({ name: w.name, namespace, body }, STRATEGIC_MERGE_PATCH),
      );
      return patched.metadata?.generation ?? 0;
    } catch (e) {
      throw deployError(e, `restarting ${w.kind}/${w.name}`);
    }
  };

  return {
    command,
    rollbackCommand: command,
    timeoutMs,

    title,

    /**
     * Preflight: rekey may get and patch every workload (SelfSubjectAccessReview), each missing
     * permission named; then every workload exists and no Deployment is paused. Changes nothing.
     */
    async check() {
      const missing: string[] = [];
      for (const w of workloads)
        for (const verb of ['get', 'patch']) {
          const ok = await canI(client(), {
            verb,
            group: 'apps',
            resource: `${w.kind}s`,
            namespace,
            name: w.name,
          }).catch((e: unknown) => {
            throw deployError(e, 'asking for permissions');
          });
          if (!ok) missing.push(`${verb} ${w.kind}/${w.name}`);
        }
      if (missing.length > 0)
        throw new RekeyError(
          'ERR_DEPLOY_FAILED',
          `kubernetes: rekey may not ${missing.join(', ')} in namespace ${namespace} (SelfSubjectAccessReview)`,
          {
            hint: `Grant its Role in namespace ${namespace} the rule { apiGroups: ["apps"], resources: [${[...new Set(workloads.map((w) => `"${w.kind}s"`))].join(', ')}], resourceNames: [${workloads.map((w) => `"${w.name}"`).join(', ')}], verbs: ["get", "patch"] }.`,
          },
        );
      for (const w of workloads) {
        const o = await readRaw(w).catch((e: unknown) => {
          if (isStatus(e, 404))
            throw new RekeyError(
              'ERR_DEPLOY_FAILED',
              `kubernetes: ${w.kind}/${w.name} does not exist in namespace ${namespace}`,
              { hint: 'Fix deploy.kubernetes.workloads (or namespace), or create the workload first.' },
            );
          throw deployError(e, `reading ${w.kind}/${w.name}`);
        });
        if (w.kind === 'deployment' && (o as V1Deployment).spec?.paused === true) throw paused(w.name);
      }
    },

    async run(label: 'deploy' | 'rollback', request: DeployRequest) {
      const start = Date.now();
      const deadline = start + timeoutMs;
      for (const k of request.secretKeys) redactor.add(k, request.env.get(k));
      const lines: string[] = [];
      const say = (line: string) => {
        if (lines.at(-1) !== line) lines.push(redactor.redact(line));
      };
      try {
        // Every workload exists and none is paused before the first is restarted.
        for (const w of workloads) {
          const o = await read(w);
          if (w.kind === 'deployment' && (o as V1Deployment).spec?.paused === true)
            throw paused(w.name, label);
        }
        for (const w of workloads) {
          // Milliseconds (kubectl writes seconds): a rollback's restart within the same second as the
          // deploy's must still change the pod template, or nothing would roll.
          const at = new Date().toISOString();
          const generation = await restart(w, at);
          say(`${w.kind}.apps/${w.name} restarted`);
          for (;;) {
            const o = await read(w);
            const look =
              w.kind === 'deployment'
                ? deploymentStatus(o as V1Deployment, generation)
                : statefulSetStatus(o as V1StatefulSet, generation);
            say(look.line);
            if (look.done) break;
            if (Date.now() + pollMs > deadline)
              throw new RekeyError(
                'ERR_DEPLOY_TIMEOUT',
                `${label}: ${w.kind}/${w.name} did not roll out within ${config.timeout}`,
              );
            await new Promise((r) => setTimeout(r, pollMs));
          }
        }
        return { ms: Date.now() - start };
      } catch (e) {
        const err = deployError(e, label);
        say(err.message);
        throw new RekeyError(err.code, err.message, {
          hint: err.hint,
          details: [`output: ${request.logFile}`, ...outputDetails(lines.join('\n'))],
        });
      } finally {
        await ensurePrivateDir(path.dirname(request.logFile));
        await writeFileAtomic(request.logFile, `$ ${redactor.redact(command)}\n${lines.join('\n')}\n`, {
          mode: 0o600,
        });
      }
    },
  };
}
