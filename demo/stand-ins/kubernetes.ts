/**
 * Kubernetes API stand-in for tests and the demo (no cluster runs here): the routes rekey uses,
 * written from the Kubernetes API reference and kubectl's documented behaviour (read, not copied):
 * - API concepts (resourceVersion, optimistic concurrency, `Status` error bodies with `reason` and
 *   `code`, 409 Conflict "the object has been modified"): https://kubernetes.io/docs/reference/using-api/api-concepts/
 * - Secret v1 (`data` base64, `stringData` merged into `data` on write), GET/PATCH, POST (create,
 *   409 AlreadyExists):
 *   https://kubernetes.io/docs/reference/kubernetes-api/config-and-storage-resources/secret-v1/
 * - PATCH content types (`application/merge-patch+json` RFC 7386, `application/strategic-merge-patch+json`):
 *   https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
 * - Deployment / StatefulSet apps/v1 (generation, status.observedGeneration, replicas,
 *   updatedReplicas, availableReplicas, readyReplicas, currentRevision/updateRevision, conditions,
 *   `spec.paused`, `Progressing` False with reason `ProgressDeadlineExceeded`):
 *   https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
 * - SelfSubjectAccessReview authorization.k8s.io/v1:
 *   https://kubernetes.io/docs/reference/kubernetes-api/authorization-resources/self-subject-access-review-v1/
 * - Lease coordination.k8s.io/v1 (GET, POST create → 409 AlreadyExists, PUT replace with
 *   metadata.resourceVersion → 409 Conflict; MicroTime `2006-01-02T15:04:05.000000Z`):
 *   https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/
 *
 * - Stakater Reloader (opt-in, {@link KubernetesHandler.reloader}): demo/stand-ins/reloader.ts.
 * - ExternalSecret external-secrets.io/v1 and v1beta1 (either can be switched off; GET, PATCH merge patch with resourceVersion) and a
 *   fake External Secrets Operator (opt-in, {@link KubernetesHandler.eso}): demo/stand-ins/eso.ts.
 *
 * The controller is fake: after a change to a workload's pod template, each tick (default 50 ms) moves
 * its status one step: the new generation observed, then one more replica updated, then available.
 * Simplifications: one resourceVersion counter for all objects; strategic merge patch is applied as a
 * JSON merge patch (the same for the maps rekey patches: data, annotations); JSON patch and apply
 * patch are refused (415); no watch, no list, no admission; RBAC is a table of rules, not Roles.
 */

import { type EsoOptions, esoStatus, vaultSource } from './eso.js';
import type { Answer, Classified, FaultKind, Handler, RunningStandIn, StandInRequest } from './harness.js';
import { serveStandIn } from './harness.js';
import { type ReloaderOptions, reloaderPatch } from './reloader.js';

/** One RBAC rule, as in a Role: `*` matches anything; `apiGroups` `''` is the core group. */
export interface RbacRule {
  readonly verbs: readonly string[];
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  /** Limits the rule to these object names (absent: all). */
  readonly resourceNames?: readonly string[];
  /** Limits the rule to these namespaces (absent: all). */
  readonly namespaces?: readonly string[];
}

/** Everything allowed (the default). */
export const ALLOW_ALL: readonly RbacRule[] = [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }];

export interface KubernetesStandInOptions {
  readonly host?: string;
  readonly port?: number;
  /** How long one controller step takes (default 50 ms). */
  readonly tickMs?: number;
  /** Bearer token the API requires (absent: any or none). */
  readonly token?: string;
  /** The user's permissions (default {@link ALLOW_ALL}). */
  readonly rbac?: readonly RbacRule[];
  /** The user named in Forbidden messages. */
  readonly user?: string;
}

/** One change of a workload's pod template (a restart): who made it and when. */
export interface TemplateChange {
  readonly at: number;
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  /** `api`: a PATCH through the API (rekey, kubectl); `reloader`: the fake Reloader. */
  readonly by: 'api' | 'reloader';
}

type Json = Record<string, unknown>;
export type WorkloadKind = 'deployment' | 'statefulset';

interface Workload {
  object: Json;
  kind: WorkloadKind;
  /** When the pod template last changed (ms), or -Infinity: rolled out. */
  changedAt: number;
  /** The generation the last finished rollout ran. */
  settledGeneration: number;
  /** New pods never become ready. */
  stuck: boolean;
  /** Progressing False / ProgressDeadlineExceeded now. */
  deadlineExceeded: boolean;
  /** Steps after which a stuck Deployment reports ProgressDeadlineExceeded. */
  deadlineSteps: number;
}

interface Route {
  readonly group: string;
  readonly resource:
    | 'secrets'
    | 'deployments'
    | 'statefulsets'
    | 'leases'
    | 'selfsubjectaccessreviews'
    | 'externalsecrets';
  readonly namespace: string;
  readonly name: string;
  readonly verb: string;
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const QUALIFIED: Record<Route['resource'], string> = {
  secrets: 'secrets',
  deployments: 'deployments.apps',
  statefulsets: 'statefulsets.apps',
  leases: 'leases.coordination.k8s.io',
  selfsubjectaccessreviews: 'selfsubjectaccessreviews.authorization.k8s.io',
  externalsecrets: 'externalsecrets.external-secrets.io',
};

/** One reconcile of the fake External Secrets Operator. */
export interface EsoSync {
  readonly at: number;
  readonly namespace: string;
  readonly name: string;
  readonly result: 'synced' | 'error';
}

/** A `Status` failure body, as the API server sends with every error. */
export function status(
  code: number,
  reason: string,
  message: string,
  details?: { name?: string; group?: string; kind?: string },
): Answer {
  return {
    status: code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details === undefined ? {} : { details }),
      code,
    },
  };
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Json => (isObject(v) ? v : {});

/** RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The Kubernetes API request handler (state in memory); exported for tests' hooks. */
export class KubernetesHandler implements Handler {
  readonly contentType = 'application/json';
  private readonly objects = new Map<string, Json>();
  private readonly workloads = new Map<string, Workload>();
  private version = 100;
  private readonly tickMs: number;
  private readonly token: string | undefined;
  private readonly user: string;
  rbac: readonly RbacRule[];
  /** The ExternalSecret API versions served (`POST .../eso-versions {versions}`): both by default. */
  esoVersions: ReadonlySet<string> = new Set(['v1', 'v1beta1']);
  /** The fake Stakater Reloader: off unless set (demo/stand-ins/reloader.ts). */
  reloader: ReloaderOptions | undefined;
  /** The fake External Secrets Operator: off unless set (demo/stand-ins/eso.ts). */
  eso: EsoOptions | undefined;
  /** Every reconcile of the fake ESO, in order. */
  readonly esoSyncs: EsoSync[] = [];
  /** Every pod template change since start, in order. */
  readonly templateChanges: TemplateChange[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The fake ESO's Vault source, as last set through the control API (kept when only the mode changes). */
  private esoVault: { url: string; token: string; mount: string; path: string } | undefined;

  constructor(options: KubernetesStandInOptions = {}) {
    this.tickMs = options.tickMs ?? 50;
    this.token = options.token;
    this.rbac = options.rbac ?? ALLOW_ALL;
    this.user = options.user ?? 'system:serviceaccount:bi:rekey';
  }

  private nextVersion(): string {
    this.version += 1;
    return String(this.version);
  }

  private meta(namespace: string, name: string, extra: Json = {}): Json {
    return {
      name,
      namespace,
      uid: `00000000-0000-4000-8000-${String(this.version).padStart(12, '0')}`,
      resourceVersion: this.nextVersion(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...extra,
    };
  }

  // ---- test hooks (another client, no RBAC, no fault) ----

  /** Creates or replaces a Secret holding `data` (plain strings; stored base64). */
  putSecret(
    namespace: string,
    name: string,
    data: Readonly<Record<string, string>>,
    annotations?: Readonly<Record<string, string>>,
  ): void {
    this.objects.set(`secrets/${namespace}/${name}`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: this.meta(
        namespace,
        name,
        annotations === undefined ? {} : { annotations: { ...annotations } },
      ),
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
  }

  /** Another writer: merges `data` (plain strings) into the Secret, bumping its resourceVersion. */
  writeSecret(namespace: string, name: string, data: Readonly<Record<string, string | null>>): void {
    const s = this.objects.get(`secrets/${namespace}/${name}`);
    if (s === undefined) throw new Error(`no secret ${namespace}/${name}`);
    const encoded = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, v === null ? null : Buffer.from(v).toString('base64')]),
    );
    const before = JSON.stringify(s.data ?? {});
    s.data = mergePatch(s.data, encoded);
    (s.metadata as Json).resourceVersion = this.nextVersion();
    if (JSON.stringify(s.data ?? {}) !== before) this.secretChanged(s);
  }

  /** Another writer: merges `patch` into the whole Secret object (metadata, immutable, ...). */
  editSecret(namespace: string, name: string, patch: Json): void {
    const key = `secrets/${namespace}/${name}`;
    const s = this.objects.get(key);
    if (s === undefined) throw new Error(`no secret ${namespace}/${name}`);
    const next = mergePatch(s, patch) as Json;
    (next.metadata as Json).resourceVersion = this.nextVersion();
    this.objects.set(key, next);
  }

  /** The Secret's data decoded, and its resourceVersion. */
  secret(namespace: string, name: string): { data: Record<string, string>; resourceVersion: string } {
    const s = this.objects.get(`secrets/${namespace}/${name}`);
    if (s === undefined) throw new Error(`no secret ${namespace}/${name}`);
    const data = Object.fromEntries(
      Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'base64').toString('utf8'),
      ]),
    );
    return { data, resourceVersion: String((s.metadata as Json).resourceVersion) };
  }

  /** Creates a Deployment or StatefulSet, rolled out, with `replicas` pods. */
  putWorkload(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    options: {
      replicas?: number;
      paused?: boolean;
      deadlineSteps?: number;
      /** The workload's own annotations (Reloader's, e.g. `reloader.stakater.com/auto: "true"`). */
      annotations?: Readonly<Record<string, string>>;
      /** A Secret its container reads every key of (`envFrom.secretRef`). */
      envFromSecret?: string;
    } = {},
  ): void {
    const replicas = options.replicas ?? 2;
    const container: Json = { name: 'app', image: 'example/app:1' };
    if (options.envFromSecret !== undefined)
      container.envFrom = [{ secretRef: { name: options.envFromSecret } }];
    const labels = { app: name };
    this.workloads.set(`${kind}/${namespace}/${name}`, {
      kind,
      changedAt: Number.NEGATIVE_INFINITY,
      settledGeneration: 1,
      stuck: false,
      deadlineExceeded: false,
      deadlineSteps: options.deadlineSteps ?? 20,
      object: {
        apiVersion: 'apps/v1',
        kind: kind === 'deployment' ? 'Deployment' : 'StatefulSet',
        metadata: this.meta(namespace, name, {
          generation: 1,
          ...(options.annotations === undefined ? {} : { annotations: { ...options.annotations } }),
        }),
        spec: {
          replicas,
          selector: { matchLabels: labels },
          ...(kind === 'deployment'
            ? {
                progressDeadlineSeconds: 600,
                strategy: {
                  type: 'RollingUpdate',
                  rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
                },
                ...(options.paused === true ? { paused: true } : {}),
              }
            : { serviceName: name, updateStrategy: { type: 'RollingUpdate' } }),
          template: {
            metadata: { labels },
            spec: { containers: [container] },
          },
        },
      },
    });
  }

  /** The workload as the API returns it (status computed now). */
  workload(kind: WorkloadKind, namespace: string, name: string): Json {
    const w = this.workloads.get(`${kind}/${namespace}/${name}`);
    if (w === undefined) throw new Error(`no ${kind} ${namespace}/${name}`);
    return this.withStatus(w);
  }

  /**
   * New pods of this workload never become ready (a bad config, a crash loop); `false` heals it (the
   * next rollout succeeds, e.g. pods that read the restored old values).
   */
  neverAvailable(kind: WorkloadKind, namespace: string, name: string, stuck = true): void {
    const w = this.workloads.get(`${kind}/${namespace}/${name}`);
    if (w === undefined) throw new Error(`no ${kind} ${namespace}/${name}`);
    w.stuck = stuck;
    if (!stuck) w.deadlineExceeded = false;
  }

  /** The Deployment reports Progressing False / ProgressDeadlineExceeded from now on. */
  exceedProgressDeadline(namespace: string, name: string): void {
    const w = this.workloads.get(`deployment/${namespace}/${name}`);
    if (w === undefined) throw new Error(`no deployment ${namespace}/${name}`);
    w.deadlineExceeded = true;
  }

  /** Puts `spec` merged into a workload, as `kubectl edit` would (pauses, resumes). */
  editWorkload(kind: WorkloadKind, namespace: string, name: string, spec: Json): void {
    const w = this.workloads.get(`${kind}/${namespace}/${name}`);
    if (w === undefined) throw new Error(`no ${kind} ${namespace}/${name}`);
    this.applyWorkloadPatch(w, { spec });
  }

  /**
   * Creates an ExternalSecret (Ready, synced once) writing Secret `target` (default `name`), and marks
   * that Secret (which must exist) as owned by it, as ESO does with creationPolicy Owner.
   */
  putExternalSecret(namespace: string, name: string, target = name): void {
    const meta = this.meta(namespace, name, { generation: 1 });
    const es: Json = {
      apiVersion: 'external-secrets.io/v1beta1',
      kind: 'ExternalSecret',
      metadata: meta,
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { name: 'vault', kind: 'SecretStore' },
        target: { name: target, creationPolicy: 'Owner' },
        dataFrom: [{ extract: { key: 'bi/production' } }],
      },
    };
    es.status = esoStatus(es, true, Date.now() - 60_000);
    this.objects.set(`externalsecrets/${namespace}/${name}`, es);
    const secret = this.objects.get(`secrets/${namespace}/${target}`);
    if (secret !== undefined)
      (secret.metadata as Json).ownerReferences = [
        {
          apiVersion: 'external-secrets.io/v1beta1',
          kind: 'ExternalSecret',
          name,
          uid: meta.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ];
  }

  /** The ExternalSecret object, if any. */
  externalSecret(namespace: string, name: string): Json | undefined {
    return this.objects.get(`externalsecrets/${namespace}/${name}`);
  }

  /**
   * The fake ESO reconciles an ExternalSecret (after its delay): reads the source, replaces the target
   * Secret's data, sets the status; or, injected, never answers, or fails with SecretSyncedError.
   */
  private esoReconcile(namespace: string, name: string): void {
    const eso = this.eso;
    if (eso === undefined || eso.mode === 'never') return;
    const act = async () => {
      const key = `externalsecrets/${namespace}/${name}`;
      const es = this.objects.get(key);
      if (es === undefined) return;
      let values: Record<string, string> | undefined;
      if (eso.mode === 'sync') values = await eso.source().catch(() => undefined);
      const now = Date.now();
      if (values !== undefined) {
        const target = String(obj(obj(es.spec).target).name ?? name);
        const s = this.objects.get(`secrets/${namespace}/${target}`);
        if (s !== undefined) {
          const data = Object.fromEntries(
            Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          );
          if (JSON.stringify(data) !== JSON.stringify(s.data ?? {})) {
            s.data = data;
            (s.metadata as Json).resourceVersion = this.nextVersion();
            this.secretChanged(s);
          }
        }
      }
      const current = this.objects.get(key) ?? es;
      current.status = esoStatus(current, values !== undefined, now);
      (current.metadata as Json).resourceVersion = this.nextVersion();
      this.esoSyncs.push({ at: now, namespace, name, result: values === undefined ? 'error' : 'synced' });
    };
    const t = setTimeout(() => {
      this.timers.delete(t);
      void act();
    }, eso.delayMs ?? 200);
    t.unref();
    this.timers.add(t);
  }

  private externalSecretRoute(req: StandInRequest, r: Route): Answer {
    const key = `externalsecrets/${r.namespace}/${r.name}`;
    const es = this.objects.get(key);
    if (es === undefined) return this.notFound(r);
    if (r.verb === 'get') return { status: 200, body: es };
    if (r.verb !== 'patch')
      return status(405, 'MethodNotAllowed', 'the stand-in serves GET and PATCH on externalsecrets');
    const body = this.patchBody(req);
    if ('answer' in body) return body.answer;
    const { status: _ignored, ...patch } = body.patch; // status is a subresource
    const meta = patch.metadata;
    const rv = isObject(meta) ? meta.resourceVersion : undefined;
    if (rv !== undefined && rv !== (es.metadata as Json).resourceVersion) return this.conflict(r);
    const next = mergePatch(es, patch) as Json;
    (next.metadata as Json).resourceVersion = (es.metadata as Json).resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(es)) return { status: 200, body: es };
    const nm = next.metadata as Json;
    if (JSON.stringify(next.spec) !== JSON.stringify(es.spec)) nm.generation = Number(nm.generation ?? 1) + 1;
    nm.resourceVersion = this.nextVersion();
    this.objects.set(key, next);
    const om = es.metadata as Json;
    if (
      JSON.stringify([nm.annotations, nm.labels, next.spec]) !==
      JSON.stringify([om.annotations, om.labels, es.spec])
    )
      this.esoReconcile(r.namespace, r.name);
    return { status: 200, body: next };
  }

  /** The Lease object, if any. */
  lease(namespace: string, name: string): Json | undefined {
    return this.objects.get(`leases/${namespace}/${name}`);
  }

  /**
   * Control routes (never part of the Kubernetes API), for a stand-in running as its own process:
   * `POST /__stand-in/kubernetes/secret {namespace,name,data}`, `.../workload {kind,namespace,name,replicas,paused,annotations,envFromSecret}`,
   * `.../reloader {enabled,delayMs}` (the fake Reloader), `.../eso-versions {versions}` (the ExternalSecret API versions served), `GET .../template-changes` (every restart, by whom),
   * `.../never-available {kind,namespace,name,stuck}`, `.../progress-deadline {namespace,name}`, `.../rbac {rules}`,
   * `GET .../secret?namespace=&name=` (data decoded, resourceVersion).
   */
  control(req: StandInRequest): Answer | undefined {
    const m = /^\/__stand-in\/kubernetes\/([a-z-]+)$/.exec(req.url.pathname);
    if (m === null) return undefined;
    const b = (isObject(req.json) ? req.json : {}) as {
      namespace: string;
      name: string;
      kind?: string;
      data?: Record<string, string>;
      replicas?: number;
      paused?: boolean;
      stuck?: boolean;
      rules?: RbacRule[];
      annotations?: Record<string, string>;
      envFromSecret?: string;
      enabled?: boolean;
      delayMs?: number;
      target?: string;
      mode?: 'sync' | 'never' | 'error';
      vault?: { url: string; token: string; mount: string; path: string };
      versions?: string[];
    };
    const kind: WorkloadKind = b.kind === 'statefulset' ? 'statefulset' : 'deployment';
    try {
      switch (`${req.method} ${m[1]}`) {
        case 'POST secret':
          this.putSecret(b.namespace, b.name, b.data ?? {});
          return { status: 204 };
        case 'POST eso-versions':
          this.esoVersions = new Set(b.versions ?? []);
          return { status: 204 };
        case 'GET secret':
          return {
            status: 200,
            body: this.secret(
              req.url.searchParams.get('namespace') ?? '',
              req.url.searchParams.get('name') ?? '',
            ),
          };
        case 'POST workload':
          this.putWorkload(kind, b.namespace, b.name, {
            replicas: b.replicas ?? 2,
            paused: b.paused === true,
            ...(b.annotations === undefined ? {} : { annotations: b.annotations }),
            ...(b.envFromSecret === undefined ? {} : { envFromSecret: b.envFromSecret }),
          });
          return { status: 204 };
        case 'POST reloader':
          this.reloader = b.enabled === false ? undefined : { delayMs: b.delayMs ?? 0 };
          return { status: 204 };
        case 'POST external-secret':
          this.putExternalSecret(b.namespace, b.name, b.target ?? b.name);
          return { status: 204 };
        case 'GET external-secret':
          return {
            status: 200,
            body:
              this.externalSecret(
                req.url.searchParams.get('namespace') ?? '',
                req.url.searchParams.get('name') ?? '',
              ) ?? null,
          };
        case 'POST eso': {
          if (b.enabled === false) {
            this.eso = undefined;
            return { status: 204 };
          }
          const vault = b.vault ?? this.esoVault;
          if (vault === undefined)
            return { status: 400, body: { error: 'eso needs vault {url,token,mount,path}' } };
          this.esoVault = vault;
          this.eso = { mode: b.mode ?? 'sync', delayMs: b.delayMs ?? 200, source: vaultSource(vault) };
          return { status: 204 };
        }
        case 'GET eso-syncs':
          return { status: 200, body: this.esoSyncs };
        case 'GET template-changes':
          return { status: 200, body: this.templateChanges };
        case 'POST never-available':
          this.neverAvailable(kind, b.namespace, b.name, b.stuck !== false);
          return { status: 204 };
        case 'POST progress-deadline':
          this.exceedProgressDeadline(b.namespace, b.name);
          return { status: 204 };
        case 'POST rbac':
          this.rbac = Array.isArray(b.rules) ? b.rules : ALLOW_ALL;
          return { status: 204 };
        default:
          return { status: 404, body: { error: 'no such control route' } };
      }
    } catch (e) {
      return { status: 400, body: { error: (e as Error).message } };
    }
  }

  // ---- the API ----

  private route(req: StandInRequest): Route | undefined {
    const p = req.url.pathname.replace(/\/+$/, '');
    const method = req.method.toUpperCase();
    const verbOf = (named: boolean) =>
      method === 'GET'
        ? named
          ? 'get'
          : 'list'
        : method === 'PATCH'
          ? 'patch'
          : method === 'PUT'
            ? 'update'
            : method === 'POST'
              ? 'create'
              : method === 'DELETE'
                ? 'delete'
                : method.toLowerCase();
    let m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(p);
    if (m !== null)
      return {
        group: '',
        resource: 'secrets',
        namespace: m[1]!,
        name: m[2] ?? '',
        verb: verbOf(m[2] !== undefined),
      };
    m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)(?:\/([^/]+))?$/.exec(p);
    if (m !== null)
      return {
        group: 'apps',
        resource: m[2] as 'deployments' | 'statefulsets',
        namespace: m[1]!,
        name: m[3] ?? '',
        verb: verbOf(m[3] !== undefined),
      };
    m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(p);
    if (m !== null)
      return {
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: m[1]!,
        name: m[2] ?? '',
        verb: verbOf(m[2] !== undefined),
      };
    m =
      /^\/apis\/external-secrets\.io\/(v1|v1beta1)\/namespaces\/([^/]+)\/externalsecrets(?:\/([^/]+))?$/.exec(
        p,
      );
    // A version the cluster does not serve is an unknown path (404), as on a real API server.
    if (m !== null && this.esoVersions.has(m[1]!))
      return {
        group: 'external-secrets.io',
        resource: 'externalsecrets',
        namespace: m[2]!,
        name: m[3] ?? '',
        verb: verbOf(m[3] !== undefined),
      };
    if (p === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')
      return {
        group: 'authorization.k8s.io',
        resource: 'selfsubjectaccessreviews',
        namespace: '',
        name: '',
        verb: verbOf(false),
      };
    return undefined;
  }

  classify(req: StandInRequest): Classified {
    const r = this.route(req);
    if (r === undefined) return { op: `k8s.unknown.${req.method.toLowerCase()}`, write: false };
    return { op: `${r.resource}.${r.verb}`, write: !['get', 'list'].includes(r.verb) };
  }

  fault(kind: Exclude<FaultKind, 'drop'>, op: string): Answer {
    const resource = op.split('.')[0] ?? 'objects';
    switch (kind) {
      case 'conflict':
        return status(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${resource} "stand-in": the object has been modified; please apply your changes to the latest version and try again`,
          { kind: resource },
        );
      case 'throttle':
        return {
          ...status(429, 'TooManyRequests', 'Too many requests, please try again later.'),
          headers: { 'retry-after': '1' },
        };
      case 'denied':
        return status(403, 'Forbidden', `${resource} is forbidden: User "${this.user}" cannot ${op}`);
      case 'error500':
        return status(500, 'InternalError', 'Internal error occurred: stand-in fault');
    }
  }

  /** Whether the RBAC table allows `verb` on the object. */
  allowed(a: { verb: string; group: string; resource: string; namespace: string; name: string }): boolean {
    const has = (list: readonly string[] | undefined, v: string) =>
      list === undefined || list.includes('*') || list.includes(v);
    return this.rbac.some(
      (rule) =>
        has(rule.verbs, a.verb) &&
        has(rule.apiGroups, a.group) &&
        has(rule.resources, a.resource) &&
        (rule.resourceNames === undefined || (a.name !== '' && rule.resourceNames.includes(a.name))) &&
        (rule.namespaces === undefined || rule.namespaces.includes(a.namespace)),
    );
  }

  private forbidden(r: Route): Answer {
    const what = r.name === '' ? QUALIFIED[r.resource] : `${QUALIFIED[r.resource]} "${r.name}"`;
    return status(
      403,
      'Forbidden',
      `${what} is forbidden: User "${this.user}" cannot ${r.verb} resource "${r.resource}" in API group "${r.group}" in the namespace "${r.namespace}"`,
      {
        ...(r.name === '' ? {} : { name: r.name }),
        ...(r.group === '' ? {} : { group: r.group }),
        kind: r.resource,
      },
    );
  }

  private notFound(r: Route): Answer {
    return status(404, 'NotFound', `${QUALIFIED[r.resource]} "${r.name}" not found`, {
      name: r.name,
      ...(r.group === '' ? {} : { group: r.group }),
      kind: r.resource,
    });
  }

  private conflict(r: Route): Answer {
    return status(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${QUALIFIED[r.resource]} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name: r.name, ...(r.group === '' ? {} : { group: r.group }), kind: r.resource },
    );
  }

  handle(req: StandInRequest): Answer {
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`)
      return status(401, 'Unauthorized', 'Unauthorized');
    const r = this.route(req);
    if (r === undefined) return status(404, 'NotFound', 'the server could not find the requested resource');
    if (r.resource === 'selfsubjectaccessreviews') return this.review(req);
    if (!this.allowed(r)) return this.forbidden(r);
    if (r.name === '') {
      if (r.resource === 'leases' && r.verb === 'create') return this.createLease(req, r);
      if (r.resource === 'secrets' && r.verb === 'create') return this.createSecret(req, r);
      return status(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    }
    switch (r.resource) {
      case 'secrets':
        return this.secretRoute(req, r);
      case 'deployments':
      case 'statefulsets':
        return this.workloadRoute(req, r);
      case 'leases':
        return this.leaseRoute(req, r);
      case 'externalsecrets':
        return this.externalSecretRoute(req, r);
    }
  }

  private patchBody(req: StandInRequest): { answer: Answer } | { patch: Json } {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json')
      return {
        answer: status(
          415,
          'UnsupportedMediaType',
          'the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (stand-in)',
        ),
      };
    if (!isObject(req.json))
      return { answer: status(400, 'BadRequest', 'the body of the request is not a JSON object') };
    return { patch: req.json };
  }

  private secretRoute(req: StandInRequest, r: Route): Answer {
    const key = `secrets/${r.namespace}/${r.name}`;
    const s = this.objects.get(key);
    if (s === undefined) return this.notFound(r);
    if (r.verb === 'get') return { status: 200, body: s };
    if (r.verb !== 'patch')
      return status(405, 'MethodNotAllowed', 'the stand-in serves GET and PATCH on secrets');
    const body = this.patchBody(req);
    if ('answer' in body) return body.answer;
    const patch = body.patch;
    const meta = patch.metadata;
    const rv = isObject(meta) ? meta.resourceVersion : undefined;
    if (rv !== undefined && rv !== (s.metadata as Json).resourceVersion) return this.conflict(r);
    const next = mergePatch(s, patch) as Json;
    const stringData = next.stringData;
    delete next.stringData;
    if (isObject(stringData))
      next.data = {
        ...(isObject(next.data) ? next.data : {}),
        ...Object.fromEntries(
          Object.entries(stringData).map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')]),
        ),
      };
    for (const [k, v] of Object.entries(isObject(next.data) ? next.data : {}))
      if (typeof v !== 'string' || !BASE64.test(v))
        return status(
          400,
          'BadRequest',
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in key ${JSON.stringify(k)}`,
        );
    (next.metadata as Json).resourceVersion = (s.metadata as Json).resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(s)) return { status: 200, body: s };
    (next.metadata as Json).resourceVersion = this.nextVersion();
    this.objects.set(key, next);
    if (JSON.stringify(next.data ?? {}) !== JSON.stringify(s.data ?? {})) this.secretChanged(next);
    return { status: 200, body: next };
  }

  /**
   * A Secret's data changed: the fake Reloader (when on) patches, after its delay, the pod template of
   * every workload in the namespace it would restart (metadata-only changes never trigger it).
   */
  private secretChanged(secret: Json): void {
    const r = this.reloader;
    if (r === undefined || r.enabled === false) return;
    const meta = secret.metadata as Json;
    const namespace = String(meta.namespace);
    const snapshot = structuredClone(secret);
    const act = () => {
      for (const w of this.workloads.values()) {
        const wm = w.object.metadata as Json;
        if (wm.namespace !== namespace) continue;
        const patch = reloaderPatch(w.object, snapshot);
        if (patch !== undefined) this.applyWorkloadPatch(w, patch, 'reloader');
      }
    };
    const delay = r.delayMs ?? 0;
    if (delay <= 0) {
      act();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      act();
    }, delay);
    t.unref();
    this.timers.add(t);
  }

  /** Cancels the fake Reloader's pending restarts. */
  stopTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private workloadRoute(req: StandInRequest, r: Route): Answer {
    const kind: WorkloadKind = r.resource === 'deployments' ? 'deployment' : 'statefulset';
    const w = this.workloads.get(`${kind}/${r.namespace}/${r.name}`);
    if (w === undefined) return this.notFound(r);
    if (r.verb === 'get') return { status: 200, body: this.withStatus(w) };
    if (r.verb !== 'patch')
      return status(405, 'MethodNotAllowed', 'the stand-in serves GET and PATCH on workloads');
    const body = this.patchBody(req);
    if ('answer' in body) return body.answer;
    const patch = body.patch;
    const meta = patch.metadata;
    const rv = isObject(meta) ? meta.resourceVersion : undefined;
    if (rv !== undefined && rv !== (w.object.metadata as Json).resourceVersion) return this.conflict(r);
    this.applyWorkloadPatch(w, patch);
    return { status: 200, body: this.withStatus(w) };
  }

  private applyWorkloadPatch(w: Workload, patch: Json, by: TemplateChange['by'] = 'api'): void {
    const { status: _ignored, ...rest } = patch; // status is a subresource
    const before = JSON.stringify(w.object.spec);
    const template = JSON.stringify((w.object.spec as Json).template);
    const next = mergePatch(w.object, rest) as Json;
    const meta = next.metadata as Json;
    const changed = JSON.stringify(next.spec) !== before;
    if (!changed && JSON.stringify(next) === JSON.stringify(w.object)) return;
    if (changed) {
      // The old rollout finished (or not) as far as it got; the new one starts now.
      const spec = next.spec as Json;
      meta.generation = Number(meta.generation) + 1;
      if (spec.paused !== true) w.changedAt = Date.now();
      else w.settledGeneration = Number(meta.generation); // paused: nothing rolls
    }
    meta.resourceVersion = this.nextVersion();
    w.object = next;
    if (JSON.stringify((next.spec as Json).template) !== template)
      this.templateChanges.push({
        at: Date.now(),
        kind: w.kind,
        namespace: String(meta.namespace),
        name: String(meta.name),
        by,
      });
  }

  /** The workload with the fake controller's status at this instant. */
  private withStatus(w: Workload): Json {
    const spec = w.object.spec as Json;
    const meta = w.object.metadata as Json;
    const generation = Number(meta.generation);
    const replicas = Number(spec.replicas ?? 1);
    const steps = Number.isFinite(w.changedAt)
      ? Math.floor((Date.now() - w.changedAt) / this.tickMs)
      : Number.POSITIVE_INFINITY;
    const paused = spec.paused === true;
    const observed = steps >= 1 || paused ? generation : generation - 1;
    let updated: number;
    let total: number;
    let available: number;
    if (!Number.isFinite(steps) || paused) {
      updated = replicas;
      total = replicas;
      available = replicas;
    } else if (w.stuck) {
      updated = steps >= 1 ? Math.min(1, replicas) : replicas;
      total = steps >= 1 ? replicas + 1 : replicas;
      available = replicas;
    } else {
      updated = steps >= 1 ? Math.min(replicas, steps) : replicas;
      const newAvailable = Math.max(0, Math.min(replicas, steps - 1));
      total = updated < replicas ? replicas + 1 : replicas;
      available = updated < replicas ? newAvailable + (replicas - updated) : newAvailable;
    }
    const done =
      observed === generation && updated === replicas && total === replicas && available === replicas;
    if (done && !paused) w.settledGeneration = generation;
    let statusBody: Json;
    if (w.kind === 'deployment') {
      const deadline = w.deadlineExceeded || (w.stuck && Number.isFinite(steps) && steps >= w.deadlineSteps);
      const progressing = deadline
        ? {
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: `ReplicaSet "${String(meta.name)}-${generation}" has timed out progressing.`,
          }
        : done
          ? {
              status: 'True',
              reason: 'NewReplicaSetAvailable',
              message: `ReplicaSet "${String(meta.name)}-${generation}" has successfully progressed.`,
            }
          : paused
            ? { status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' }
            : {
                status: 'True',
                reason: 'ReplicaSetUpdated',
                message: `ReplicaSet "${String(meta.name)}-${generation}" is progressing.`,
              };
      const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      statusBody = {
        observedGeneration: observed,
        replicas: total,
        updatedReplicas: updated,
        readyReplicas: available,
        availableReplicas: available,
        ...(total - available > 0 ? { unavailableReplicas: total - available } : {}),
        conditions: [
          {
            type: 'Available',
            status: available >= replicas - Math.floor(replicas / 4) ? 'True' : 'False',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
            lastUpdateTime: t,
            lastTransitionTime: t,
          },
          { type: 'Progressing', ...progressing, lastUpdateTime: t, lastTransitionTime: t },
        ],
      };
    } else {
      const name = String(meta.name);
      const ready =
        !Number.isFinite(steps) || paused
          ? replicas
          : w.stuck
            ? Math.max(0, replicas - 1)
            : steps > replicas
              ? replicas
              : Math.max(0, replicas - 1);
      const revision = `${name}-${generation}`;
      const rolled = ready === replicas && updated === replicas && observed === generation;
      statusBody = {
        observedGeneration: observed,
        replicas,
        readyReplicas: ready,
        availableReplicas: ready,
        currentReplicas: rolled ? replicas : replicas - updated,
        updatedReplicas: observed === generation ? updated : replicas,
        currentRevision: rolled ? revision : `${name}-${w.settledGeneration}`,
        updateRevision: observed === generation ? revision : `${name}-${w.settledGeneration}`,
        collisionCount: 0,
      };
    }
    return { ...w.object, status: statusBody };
  }

  private review(req: StandInRequest): Answer {
    const body = isObject(req.json) ? req.json : {};
    const spec = isObject(body.spec) ? body.spec : {};
    const ra = isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
    if (ra === undefined)
      return status(
        422,
        'Invalid',
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required value',
      );
    const attrs = {
      verb: String(ra.verb ?? ''),
      group: String(ra.group ?? ''),
      resource: String(ra.resource ?? ''),
      namespace: String(ra.namespace ?? ''),
      name: String(ra.name ?? ''),
    };
    const allowed = this.allowed(attrs);
    return {
      status: 201,
      body: {
        kind: 'SelfSubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec,
        status: allowed
          ? { allowed: true, reason: 'RBAC: allowed by the stand-in table' }
          : { allowed: false },
      },
    };
  }

  private leaseCheck(body: Json): Answer | undefined {
    const spec = isObject(body.spec) ? body.spec : {};
    for (const f of ['acquireTime', 'renewTime'])
      if (spec[f] !== undefined && spec[f] !== null && !MICRO_TIME.test(String(spec[f])))
        return status(
          400,
          'BadRequest',
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(spec[f])} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
        );
    return undefined;
  }

  /** POST a Secret: `data` (base64) and `stringData` kept as `data`; 409 AlreadyExists. */
  private createSecret(req: StandInRequest, r: Route): Answer {
    const body = isObject(req.json) ? req.json : {};
    const meta = isObject(body.metadata) ? body.metadata : {};
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '')
      return status(
        422,
        'Invalid',
        'Secret "" is invalid: metadata.name: Required value: name or generateName is required',
      );
    const key = `secrets/${r.namespace}/${name}`;
    if (this.objects.has(key))
      return status(409, 'AlreadyExists', `secrets "${name}" already exists`, { name, kind: 'secrets' });
    const data: Json = { ...(isObject(body.data) ? body.data : {}) };
    if (isObject(body.stringData))
      for (const [k, v] of Object.entries(body.stringData))
        data[k] = Buffer.from(String(v)).toString('base64');
    for (const [k, v] of Object.entries(data))
      if (typeof v !== 'string' || !BASE64.test(v))
        return status(
          400,
          'BadRequest',
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in key ${JSON.stringify(k)}`,
        );
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: this.meta(r.namespace, name),
      type: typeof body.type === 'string' ? body.type : 'Opaque',
      data,
    };
    this.objects.set(key, secret);
    return { status: 201, body: secret };
  }

  private createLease(req: StandInRequest, r: Route): Answer {
    const body = isObject(req.json) ? req.json : {};
    const meta = isObject(body.metadata) ? body.metadata : {};
    const name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '')
      return status(
        422,
        'Invalid',
        'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required',
      );
    const bad = this.leaseCheck(body);
    if (bad !== undefined) return bad;
    const key = `leases/${r.namespace}/${name}`;
    if (this.objects.has(key))
      return status(409, 'AlreadyExists', `leases.coordination.k8s.io "${name}" already exists`, {
        name,
        group: r.group,
        kind: 'leases',
      });
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: this.meta(r.namespace, name, isObject(meta.labels) ? { labels: meta.labels } : {}),
      spec: isObject(body.spec) ? body.spec : {},
    };
    this.objects.set(key, lease);
    return { status: 201, body: lease };
  }

  private leaseRoute(req: StandInRequest, r: Route): Answer {
    const key = `leases/${r.namespace}/${r.name}`;
    const lease = this.objects.get(key);
    if (lease === undefined) return this.notFound(r);
    if (r.verb === 'get') return { status: 200, body: lease };
    if (r.verb === 'delete') {
      this.objects.delete(key);
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: r.name, group: r.group, kind: 'leases' },
        },
      };
    }
    if (r.verb !== 'update')
      return status(405, 'MethodNotAllowed', 'the stand-in serves GET, PUT and DELETE on a lease');
    const body = isObject(req.json) ? req.json : {};
    const meta = isObject(body.metadata) ? body.metadata : {};
    if (meta.name !== undefined && meta.name !== r.name)
      return status(
        400,
        'BadRequest',
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${r.name})`,
      );
    const bad = this.leaseCheck(body);
    if (bad !== undefined) return bad;
    const rv = meta.resourceVersion;
    if (rv !== undefined && rv !== (lease.metadata as Json).resourceVersion) return this.conflict(r);
    const next = {
      ...lease,
      metadata: { ...(lease.metadata as Json), resourceVersion: this.nextVersion() },
      spec: isObject(body.spec) ? body.spec : {},
    };
    this.objects.set(key, next);
    return { status: 200, body: next };
  }
}

export interface KubernetesStandIn extends RunningStandIn {
  readonly handler: KubernetesHandler;
  /** A kubeconfig (YAML) for the stand-in: one cluster, one user with `token`, context `stand-in`. */
  kubeconfig(options?: { token?: string; context?: string; namespace?: string }): string;
}

/**
 * Starts a Kubernetes API stand-in on 127.0.0.1 (plain http: the kubeconfig sets
 * `insecure-skip-tls-verify`, which @kubernetes/client-node requires for an http server).
 *
 * @example
 * const k8s = await startKubernetesStandIn();
 * k8s.handler.putSecret('bi', 'bi-secrets', { JWT_SECRET: 'x' });
 * writeFileSync(file, k8s.kubeconfig());
 */
export async function startKubernetesStandIn(
  options: KubernetesStandInOptions = {},
): Promise<KubernetesStandIn> {
  const handler = new KubernetesHandler(options);
  const running = await serveStandIn(handler, options);
  const kubeconfig = (o: { token?: string; context?: string; namespace?: string } = {}) =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: stand-in',
      '    cluster:',
      `      server: ${running.url}`,
      '      insecure-skip-tls-verify: true',
      'users:',
      '  - name: rekey',
      '    user:',
      `      token: ${JSON.stringify(o.token ?? options.token ?? 'stand-in-token')}`,
      'contexts:',
      `  - name: ${o.context ?? 'stand-in'}`,
      '    context:',
      '      cluster: stand-in',
      '      user: rekey',
      `      namespace: ${o.namespace ?? 'default'}`,
      `current-context: ${o.context ?? 'stand-in'}`,
      '',
    ].join('\n');
  return Object.assign(running, { handler, kubeconfig });
}
