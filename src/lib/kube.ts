/**
 * The Kubernetes API as rekey's Kubernetes adapters use it (@kubernetes/client-node 1.4): the
 * kubeconfig (KUBECONFIG, else ~/.kube/config, else the in-cluster service account; `context` picks
 * one), the typed API clients, merge patches, and API errors turned into rekey's error codes with the
 * API server's own one-line reason (a `Status` message names objects and verbs, never a value).
 * Shared by the kubernetes store (src/stores/kubernetes/) and deploy (src/deploy/kubernetes.ts).
 */
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { type ErrorCode, RekeyError } from './errors.js';
import { isLoopback } from './loopback.js';

export interface KubeOptions {
  /** The kubeconfig context; the file's current context when absent. */
  readonly context?: string;
  /** A kubeconfig file to read instead of KUBECONFIG / ~/.kube/config / in-cluster (tests). */
  readonly kubeconfig?: string;
  /** Pause between attempts on 429 / 5xx (default 500 ms; tests use less). */
  readonly backoffMs?: number;
}

/** What client-node loads when it finds no configuration at all: never a cluster rekey should use. */
const NO_CONFIG_SERVER = 'http://localhost:8080';

/** The API clients for one cluster and user. */
export interface Kube {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly auth: AuthorizationV1Api;
  readonly coordination: CoordinationV1Api;
  /** Custom resources (External Secrets Operator's ExternalSecret). */
  readonly custom: CustomObjectsApi;
  /** The API server's URL. */
  readonly server: string;
  /** The context used (`in-cluster` for the service account). */
  readonly context: string;
  readonly backoffMs: number;
}

/**
 * Loads the kubeconfig and makes the clients; refuses (ERR_STORE_UNSUITABLE) an unknown context, no
 * configuration at all, and plain http to anything but this machine.
 *
 * @example
 * const kube = connectKube({ context: 'prod' });
 * await kube.core.readNamespacedSecret({ name: 'bi-secrets', namespace: 'bi' });
 */
export function connectKube(options: KubeOptions = {}): Kube {
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    // No cause: a YAML parser's message quotes the file, and a kubeconfig holds tokens.
    const code = (e as { code?: unknown }).code;
    throw new RekeyError(
      'ERR_STORE_UNSUITABLE',
      `kubernetes: the kubeconfig cannot be read${typeof code === 'string' ? ` (${code})` : ''}`,
      { hint: 'Check KUBECONFIG (or ~/.kube/config): `kubectl config view` must show it.' },
    );
  }
  if (options.context !== undefined) {
    if (kc.getContextObject(options.context) == null)
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `kubernetes: the kubeconfig has no context ${JSON.stringify(options.context)}`,
        { hint: 'Name one that `kubectl config get-contexts` lists, in `context:`.' },
      );
    kc.setCurrentContext(options.context);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null || (cluster.server === NO_CONFIG_SERVER && cluster.name === 'cluster'))
    throw new RekeyError('ERR_STORE_UNSUITABLE', 'kubernetes: no kubeconfig and not running in a cluster', {
      hint: 'Set KUBECONFIG (or write ~/.kube/config), or run rekey in a pod with a service account.',
    });
  const url = new URL(cluster.server);
  if (url.protocol === 'http:' && !isLoopback(url.hostname))
    throw new RekeyError(
      'ERR_STORE_UNSUITABLE',
      `kubernetes: the API server ${url.origin} is plain http, which would carry the token and the secrets in clear text`,
      { hint: 'Use the https:// address of the API server.' },
    );
  return {
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    auth: kc.makeApiClient(AuthorizationV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    server: url.origin,
    context: kc.getCurrentContext() === 'inClusterContext' ? 'in-cluster' : kc.getCurrentContext(),
    backoffMs: options.backoffMs ?? 500,
  };
}

/** Request options making a PATCH a JSON merge patch (RFC 7386; client-node defaults to JSON patch). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Request options making a PATCH a strategic merge patch (what kubectl sends for `rollout restart`). */
export const STRATEGIC_MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** The API server's `Status` for a failed call: reason and message (client-node hands it over as text). */
export function apiStatus(e: unknown): { code: number; reason: string; message: string } | undefined {
  if (!(e instanceof ApiException)) return undefined;
  let body: unknown = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  const s = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return {
    code: Number(e.code),
    reason: typeof s.reason === 'string' ? s.reason : '',
    message: typeof s.message === 'string' ? s.message.slice(0, 300) : '',
  };
}

/** Whether `e` is an API answer with this HTTP status. */
export function isStatus(e: unknown, code: number): boolean {
  return apiStatus(e)?.code === code;
}

/**
 * A failed call as a RekeyError: 401/403 → ERR_STORE_AUTH, 404 → ERR_STORE_UNSUITABLE, 409 →
 * ERR_STORE_CONFLICT, 429/5xx and no answer → ERR_STORE_UNREACHABLE, anything else ERR_STORE_REJECTED.
 * `what` says what rekey was doing (`reading Secret bi/bi-secrets`).
 */
export function kubeError(e: unknown, what: string): RekeyError {
  if (e instanceof RekeyError) return e;
  const s = apiStatus(e);
  if (s === undefined) {
    const cause = (e as { cause?: { code?: string } } | undefined)?.cause;
    const code = cause?.code ?? (e as { code?: string } | undefined)?.code;
    return new RekeyError(
      'ERR_STORE_UNREACHABLE',
      `kubernetes: no answer ${what}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
  const byCode: Record<number, ErrorCode> = {
    401: 'ERR_STORE_AUTH',
    403: 'ERR_STORE_AUTH',
    404: 'ERR_STORE_UNSUITABLE',
    409: 'ERR_STORE_CONFLICT',
  };
  const code: ErrorCode =
    byCode[s.code] ?? (s.code === 429 || s.code >= 500 ? 'ERR_STORE_UNREACHABLE' : 'ERR_STORE_REJECTED');
  const reason = s.message === '' ? s.reason || `HTTP ${s.code}` : s.message;
  return new RekeyError(code, `kubernetes: ${what}: ${reason}`);
}

/** Runs `call`, again after a pause on 429 and 5xx (at most 3 attempts); other failures at once. */
export async function withRetry<T>(kube: Pick<Kube, 'backoffMs'>, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const s = apiStatus(e);
      const transient = s !== undefined && (s.code === 429 || s.code >= 500);
      if (!transient || attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, kube.backoffMs * attempt));
    }
  }
}

/** Asks the API server whether the current user may `verb` the object (SelfSubjectAccessReview). */
export async function canI(
  kube: Kube,
  a: { verb: string; group: string; resource: string; namespace: string; name?: string },
): Promise<boolean> {
  try {
    const review = await withRetry(kube, () =>
      kube.auth.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { ...a } },
        },
      }),
    );
    return review.status?.allowed === true;
  } catch (e) {
    throw kubeError(e, `asking whether rekey may ${a.verb} ${a.resource}`);
  }
}
