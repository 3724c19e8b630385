/**
 * A fake Stakater Reloader for the Kubernetes API stand-in (demo/stand-ins/kubernetes.ts), opt-in:
 * when a Secret's data changes, it restarts the workloads of that namespace that Reloader would,
 * written from Reloader's documentation (read, not copied):
 * - Annotation reference (https://docs.stakater.com/reloader/ "Annotation Reference"):
 *   `reloader.stakater.com/auto: "true"` and `secret.reloader.stakater.com/auto: "true"` restart a
 *   workload when a Secret it references (env, envFrom, a volume) changes, `"false"` turns auto off;
 *   `secret.reloader.stakater.com/reload: "a,b"` names Secrets explicitly;
 *   `reloader.stakater.com/search: "true"` restarts on Secrets annotated `reloader.stakater.com/match: "true"`.
 * - FAQ "What does Reloader actually do when it triggers a restart?" and "Use Reloader with Flux":
 *   the default `env-vars` strategy patches the pod template, adding or updating an environment
 *   variable `STAKATER_<NAME>_SECRET` holding a SHA1 hash of the Secret's data; only data changes
 *   (not metadata) trigger it.
 * Simplifications: Secrets only (no ConfigMaps), the env-vars strategy only, no `--auto-reload-all`,
 * a fixed delay instead of a watch.
 */
import { createHash } from 'node:crypto';

export interface ReloaderOptions {
  /** `false`: off. */
  readonly enabled?: boolean;
  /** How long after the Secret's change the restart is patched (default 0: at once). */
  readonly delayMs?: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
const list = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

/** Whether the pod spec references the Secret (env valueFrom, envFrom, a volume, a projected volume). */
function references(pod: Json, name: string): boolean {
  const containers = [...list(pod.containers), ...list(pod.initContainers)];
  const inContainers = containers.some(
    (c) =>
      list(c.env).some((e) => obj(obj(e.valueFrom).secretKeyRef).name === name) ||
      list(c.envFrom).some((e) => obj(e.secretRef).name === name),
  );
  const inVolumes = list(pod.volumes).some(
    (v) =>
      obj(v.secret).secretName === name ||
      list(obj(v.projected).sources).some((s) => obj(s.secret).name === name),
  );
  return inContainers || inVolumes;
}

/** Whether Reloader restarts the workload when this Secret's data changes. */
function watches(workload: Json, secret: Json): boolean {
  const a = obj(obj(workload.metadata).annotations) as Record<string, string>;
  const sm = obj(secret.metadata);
  const name = String(sm.name);
  const yes = (k: string) => String(a[k] ?? '').toLowerCase() === 'true';
  if (
    String(a['secret.reloader.stakater.com/reload'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes(name)
  )
    return true;
  const pod = obj(obj(obj(workload.spec).template).spec);
  if (!references(pod, name)) return false;
  if (yes('reloader.stakater.com/auto') || yes('secret.reloader.stakater.com/auto')) return true;
  const match = String(obj(sm.annotations)['reloader.stakater.com/match'] ?? '').toLowerCase() === 'true';
  return yes('reloader.stakater.com/search') && match;
}

/**
 * The strategic-merge-style patch Reloader would send to restart `workload` for `secret` (its
 * containers with `STAKATER_<NAME>_SECRET` set to the data's hash), or undefined when it leaves the
 * workload alone (or the hash is already there: nothing changed).
 */
export function reloaderPatch(workload: Json, secret: Json): Json | undefined {
  if (!watches(workload, secret)) return undefined;
  const name = String(obj(secret.metadata).name);
  const data = obj(secret.data);
  const hash = createHash('sha1')
    .update(
      Object.keys(data)
        .sort()
        .map((k) => `${k}=${String(data[k])}`)
        .join(';'),
    )
    .digest('hex');
  const env = `STAKATER_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SECRET`;
  const template = obj(obj(workload.spec).template);
  const pod = obj(template.spec);
  let changed = false;
  const containers = list(pod.containers).map((c) => {
    const vars = list(c.env).filter((e) => e.name !== env);
    if (!list(c.env).some((e) => e.name === env && e.value === hash)) changed = true;
    return { ...c, env: [...vars, { name: env, value: hash }] };
  });
  if (!changed) return undefined;
  // A merge patch replaces lists whole: the containers go back complete, with the variable set.
  return { spec: { template: { spec: { containers } } } };
}
