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
 *
 * Stakater Reloader: a workload Reloader restarts on its own when the Secret rekey wrote changes
 * (src/lib/kube-watchers.ts reads its annotations) is not restarted a second time. rekey waits for
 * Reloader's change of its pod template (any change since the template rekey saw before the write),
 * then for that rollout as for its own. Bounded: when no change comes within {@link reloaderWaitMs}
 * of the deploy's start (a fifth of the timeout, at most 60 s; Reloader absent, slow, or the write
 * changed no data), rekey restarts the workload itself and says so. Rollback the same.
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
  MERGE_PATCH,
  STRATEGIC_MERGE_PATCH,
  withRetry,
} from '../lib/kube.js';
import { dataHash, ESO, markOf, readyOf, syncState, targetSecret } from '../lib/kube-eso.js';
import { reloaderRestarts } from '../lib/kube-watchers.js';
import { redactor } from '../lib/redact.js';

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export interface KubernetesDeployerOptions extends Omit<KubeOptions, 'context'> {
  /** Pause between status reads (default 1 s, as kubectl's watch would see changes). */
  readonly pollMs?: number;
  /**
   * The Secret the rotation writes, when the workloads can read it (the kubernetes store's, in the
   * deploy's namespace): the one whose change makes Reloader restart workloads on its own.
   */
  readonly secret?: { readonly namespace: string; readonly name: string };
}

/**
 * How long rekey waits for Reloader to start a workload's rollout before restarting it itself: a
 * fifth of the deploy timeout, at most 60 s (Reloader reacts to a watch event within seconds).
 *
 * @example
 * reloaderWaitMs(300_000); // 60000
 */
export function reloaderWaitMs(timeoutMs: number): number {
  return Math.min(Math.round(timeoutMs / 5), 60_000);
}

const templateOf = (o: V1Deployment | V1StatefulSet): string => JSON.stringify(o.spec?.template ?? {});

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
  const plainTitle = `restart ${names.join(', then ')} (namespace ${namespace}), each rolled out before the next, within ${config.timeout}`;
  const esName = config.externalSecret;
  /** The Secret the workloads read: the kubernetes store's, or the ExternalSecret's target (read). */
  let secret: { namespace: string; name: string } | undefined =
    esName === undefined && options.secret?.namespace === namespace ? { ...options.secret } : undefined;
  /** The target Secret's data hash at preflight (before the store commit): a deploy's sync must change it. */
  let preflightHash: string | undefined;
  const waitReloaderMs = reloaderWaitMs(timeoutMs);
  /** Per workload (`kind/name`): the Reloader annotation that restarts it, as last read. */
  const reloaded = new Map<string, string>();
  /** Per workload: its pod template before the Secret write (preflight, then after each run). */
  const baseline = new Map<string, string>();
  const key = (w: Workload) => `${w.kind}/${w.name}`;
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

  /** Which workloads Reloader restarts when the Secret changes (none without a Secret). */
  const readWatchers = async (objects: ReadonlyMap<string, V1Deployment | V1StatefulSet>) => {
    reloaded.clear();
    const secretNow = secret;
    if (secretNow === undefined) return;
    const k = client();
    const s = await withRetry(k, () =>
      k.core.readNamespacedSecret({ name: secretNow.name, namespace: secretNow.namespace }),
    ).catch((e: unknown) => {
      throw deployError(e, `reading Secret ${secretNow.namespace}/${secretNow.name}`);
    });
    const meta = s.metadata ?? { name: secretNow.name };
    for (const w of workloads) {
      const o = objects.get(key(w));
      const why = reloaderRestarts(o?.metadata, o?.spec?.template?.spec, meta);
      if (why !== undefined) reloaded.set(key(w), why);
    }
  };

  /** The ExternalSecret API version the cluster serves (ESO.versions), learned by the first read. */
  let esVersion: string | undefined;
  const readEs = async (): Promise<unknown> => {
    const k = client();
    try {
      let lastMissing: unknown;
      for (const version of esVersion === undefined ? ESO.versions : [esVersion]) {
        try {
          const es = await withRetry(k, () =>
            k.custom.getNamespacedCustomObject({
              group: ESO.group,
              version,
              namespace,
              plural: ESO.plural,
              name: esName ?? '',
            }),
          );
          esVersion = version;
          return es;
        } catch (e) {
          // 404: this version is not served (or the object is missing): try the next one.
          if (!isStatus(e, 404)) throw e;
          lastMissing = e;
        }
      }
      throw lastMissing;
    } catch (e) {
      if (isStatus(e, 404))
        throw new RekeyError(
          'ERR_DEPLOY_FAILED',
          `kubernetes: ExternalSecret ${esName ?? ''} does not exist in namespace ${namespace}`,
          {
            hint: 'Fix deploy.kubernetes.externalSecret (or namespace), or create the ExternalSecret first.',
          },
        );
      throw deployError(e, `reading ExternalSecret ${namespace}/${esName ?? ''}`);
    }
  };
  const secretHash = async (name: string): Promise<string> => {
    const k = client();
    const s = await withRetry(k, () => k.core.readNamespacedSecret({ name, namespace })).catch(
      (e: unknown) => {
        throw deployError(e, `reading Secret ${namespace}/${name}`);
      },
    );
    return dataHash(s.data);
  };

  /**
   * External Secrets Operator: sets `force-sync` on the ExternalSecret (the store holds the values
   * this run must put in the Secret), then waits until the controller synced for that annotation
   * (bounded by `deadline`). A deploy's sync must change the Secret's data from what it held at
   * preflight; a SecretSyncedError or no sync in time fails the step.
   */
  const forceSync = async (
    label: 'deploy' | 'rollback',
    deadline: number,
    say: (line: string) => void,
    notes: string[],
  ): Promise<void> => {
    const k = client();
    const before = await readEs();
    const target = targetSecret(before);
    secret = { namespace, name: target };
    const mark = markOf(before);
    const beforeReady = readyOf(before)?.reason;
    const hashBefore = await secretHash(target);
    const at = Date.now();
    const value = new Date(at).toISOString();
    try {
      await withRetry(k, () =>
        k.custom.patchNamespacedCustomObject(
          {
            group: ESO.group,
            version: esVersion ?? ESO.versions[0],
            namespace,
            plural: ESO.plural,
            name: esName ?? '',
            body: { metadata: { annotations: { [ESO.forceSync]: value } } },
          },
          MERGE_PATCH,
        ),
      );
    } catch (e) {
      const err = deployError(e, `annotating ExternalSecret ${namespace}/${esName ?? ''}`);
      throw isStatus(e, 403)
        ? new RekeyError(err.code, err.message, {
            hint: `Grant rekey's Role get and patch on externalsecrets "${esName ?? ''}" (apiGroups: ["external-secrets.io"]).`,
          })
        : err;
    }
    say(`externalsecret.external-secrets.io/${esName ?? ''} annotated (${ESO.forceSync}=${value})`);
    for (;;) {
      const es = await readEs();
      const state = syncState(es, mark, beforeReady, at);
      if (state === 'failed')
        throw new RekeyError(
          'ERR_DEPLOY_FAILED',
          `${label}: ExternalSecret ${esName ?? ''} could not sync Secret ${target} (Ready False, SecretSyncedError)`,
          {
            hint: `\`kubectl -n ${namespace} describe externalsecret ${esName ?? ''}\` says why (its SecretStore, the path, the permissions of its provider).`,
          },
        );
      if (state === 'synced') {
        const hash = await secretHash(target);
        const changed = hash !== hashBefore;
        if (label === 'deploy' && preflightHash !== undefined && hash === preflightHash)
          throw new RekeyError(
            'ERR_DEPLOY_FAILED',
            `${label}: ExternalSecret ${esName ?? ''} synced, but Secret ${target} holds the same data as before the rotation`,
            {
              hint: `The ExternalSecret does not read what rekey wrote: its spec.data / dataFrom must name the keys at the store's path (\`kubectl -n ${namespace} get externalsecret ${esName ?? ''} -o yaml\`).`,
            },
          );
        say(
          `Secret ${target} synced by External Secrets Operator (refreshTime ${markOf(es).refreshTime})${changed ? '' : ', its data unchanged'}`,
        );
        notes.push(
          `ExternalSecret ${esName ?? ''}: sync forced, Secret ${target} written by External Secrets Operator`,
        );
        return;
      }
      say(`Waiting for ExternalSecret "${esName ?? ''}" to sync Secret "${target}"...`);
      if (Date.now() + pollMs > deadline)
        throw new RekeyError(
          'ERR_DEPLOY_TIMEOUT',
          `${label}: ExternalSecret ${esName ?? ''} did not sync Secret ${target} within ${config.timeout} of the force-sync`,
          {
            hint: `Is External Secrets Operator running? \`kubectl -n ${namespace} describe externalsecret ${esName ?? ''}\` shows its last sync.`,
          },
        );
      await new Promise((r) => setTimeout(r, pollMs));
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

    /** Read after `check` (the plan): says per workload whether Reloader or rekey restarts it. */
    get title() {
      const eso =
        esName === undefined
          ? ''
          : `ExternalSecret ${esName}: rekey writes the source store, forces a sync, waits for Secret ${secret?.name ?? esName}, then `;
      if (reloaded.size === 0)
        return eso === '' ? plainTitle : `${eso}${plainTitle.replace(/^restart /, 'restarts ')}`;
      const each = names.map((n) =>
        reloaded.has(n) ? `${n} (restarted by Reloader, rekey waits for it)` : `${n} (rekey restarts it)`,
      );
      return `${eso}${eso === '' ? 'roll out' : 'rolls out'} ${each.join(', then ')} (namespace ${namespace}), each rolled out before the next, within ${config.timeout}`;
    },

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
      const esMissing: string[] = [];
      if (esName !== undefined) {
        for (const verb of ['get', 'patch'])
          if (
            !(await canI(client(), {
              verb,
              group: ESO.group,
              resource: ESO.plural,
              namespace,
              name: esName,
            }).catch((e: unknown) => {
              throw deployError(e, 'asking for permissions');
            }))
          )
            esMissing.push(`${verb} externalsecret/${esName}`);
        if (!esMissing.includes(`get externalsecret/${esName}`)) {
          const target = targetSecret(await readEs());
          secret = { namespace, name: target };
          if (
            !(await canI(client(), {
              verb: 'get',
              group: '',
              resource: 'secrets',
              namespace,
              name: target,
            }).catch((e: unknown) => {
              throw deployError(e, 'asking for permissions');
            }))
          )
            esMissing.push(`get secret/${target}`);
        }
      }
      if (missing.length + esMissing.length > 0) {
        const rules: string[] = [];
        if (missing.length > 0)
          rules.push(
            `{ apiGroups: ["apps"], resources: [${[...new Set(workloads.map((w) => `"${w.kind}s"`))].join(', ')}], resourceNames: [${workloads.map((w) => `"${w.name}"`).join(', ')}], verbs: ["get", "patch"] }`,
          );
        if (esMissing.some((m) => m.includes('externalsecret/')))
          rules.push(
            `{ apiGroups: ["external-secrets.io"], resources: ["externalsecrets"], resourceNames: ["${esName ?? ''}"], verbs: ["get", "patch"] }`,
          );
        if (esMissing.some((m) => m.startsWith('get secret/')))
          rules.push(
            `{ apiGroups: [""], resources: ["secrets"], resourceNames: ["${secret?.name ?? ''}"], verbs: ["get"] }`,
          );
        throw new RekeyError(
          'ERR_DEPLOY_FAILED',
          `kubernetes: rekey may not ${[...missing, ...esMissing].join(', ')} in namespace ${namespace} (SelfSubjectAccessReview)`,
          {
            hint: `Grant its Role in namespace ${namespace} the rule${rules.length > 1 ? 's' : ''} ${rules.join(' and ')}.`,
          },
        );
      }
      const objects = new Map<string, V1Deployment | V1StatefulSet>();
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
        objects.set(key(w), o);
        baseline.set(key(w), templateOf(o));
      }
      if (secret !== undefined && esName !== undefined) preflightHash = await secretHash(secret.name);
      await readWatchers(objects);
    },

    async run(label: 'deploy' | 'rollback', request: DeployRequest) {
      const start = Date.now();
      const deadline = start + timeoutMs;
      for (const k of request.secretKeys) redactor.add(k, request.env.get(k));
      const lines: string[] = [];
      const notes: string[] = [];
      const say = (line: string) => {
        if (lines.at(-1) !== line) lines.push(redactor.redact(line));
      };
      const pause = () => new Promise((r) => setTimeout(r, pollMs));
      try {
        // Every workload exists and none is paused before the first is restarted.
        const objects = new Map<string, V1Deployment | V1StatefulSet>();
        for (const w of workloads) {
          const o = await read(w);
          if (w.kind === 'deployment' && (o as V1Deployment).spec?.paused === true)
            throw paused(w.name, label);
          objects.set(key(w), o);
          // No preflight in this process (recover, rollback): the template now is the baseline.
          if (!baseline.has(key(w))) baseline.set(key(w), templateOf(o));
        }
        // ESO: the store holds this run's values; the Secret gets them by a forced sync, before any restart.
        if (esName !== undefined) await forceSync(label, deadline, say, notes);
        await readWatchers(objects);
        const reloaderUntil = Math.min(Date.now() + waitReloaderMs, deadline);
        for (const w of workloads) {
          let generation: number | undefined;
          const why = reloaded.get(key(w));
          if (why !== undefined) {
            // Reloader restarts it on the Secret's change: wait for its new pod template (bounded).
            const before = baseline.get(key(w));
            for (;;) {
              const o = await read(w);
              if (templateOf(o) !== before) {
                generation = o.metadata?.generation ?? 0;
                const line = `${w.kind}/${w.name} restarted by Reloader (${why}): rekey waited for its rollout`;
                say(`${w.kind}.apps/${w.name} restarted by Reloader (${why}), waiting for its rollout`);
                notes.push(line);
                break;
              }
              if (Date.now() + pollMs > reloaderUntil) break;
              await pause();
            }
            if (generation === undefined) {
              const s = (waitReloaderMs / 1000).toFixed(0);
              notes.push(
                `${w.kind}/${w.name}: Reloader started no rollout within ${s}s of the Secret write: rekey restarted it itself`,
              );
              say(
                `${w.kind}.apps/${w.name}: no rollout by Reloader within ${s}s (${why}): rekey restarts it itself`,
              );
            }
          }
          if (generation === undefined) {
            // Milliseconds (kubectl writes seconds): a rollback's restart within the same second as the
            // deploy's must still change the pod template, or nothing would roll.
            const at = new Date().toISOString();
            generation = await restart(w, at);
            say(`${w.kind}.apps/${w.name} restarted`);
          }
          for (;;) {
            const o = await read(w);
            baseline.set(key(w), templateOf(o));
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
            await pause();
          }
        }
        return { ms: Date.now() - start, ...(notes.length === 0 ? {} : { note: notes.join('; ') }) };
      } catch (e) {
        const err = deployError(e, label);
        say(err.message);
        throw new RekeyError(err.code, err.message, {
          hint: err.hint,
          details: [`output: ${request.logFile}`, ...outputDetails(lines.join('\n'))],
        });
      } finally {
        // What Reloader did by now belongs to this write: the next run (a rollback) waits for a newer one.
        for (const w of workloads)
          if (reloaded.has(key(w)))
            await readRaw(w).then(
              (o) => baseline.set(key(w), templateOf(o)),
              () => undefined,
            );
        await ensurePrivateDir(path.dirname(request.logFile));
        await writeFileAtomic(request.logFile, `$ ${redactor.redact(command)}\n${lines.join('\n')}\n`, {
          mode: 0o600,
        });
      }
    },
  };
}
