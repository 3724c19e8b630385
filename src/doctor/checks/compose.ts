/**
 * compose traps (RK5xx), when a `compose.yaml` / `docker-compose.yml` (or `.yaml`/`compose.yml`) sits
 * beside the env file or rekey.yaml: a managed value containing `$` read through `env_file:` without
 * `format: raw` (compose interpolates it: the container gets another value than the file holds), and
 * the env file bind-mounted as a single file (rekey replaces the file by rename, so the container
 * keeps the old inode and never sees the new values). Parses YAML; reads no container.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { DoctorContext } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULES = {
  dollar: {
    id: 'RK501',
    name: 'compose-interpolates-value',
    severity: 'medium',
    summary: 'a managed value containing `$` read by compose `env_file:` without `format: raw`',
  },
  notRestarted: {
    id: 'RK503',
    name: 'compose-service-not-restarted',
    severity: 'medium',
    summary: 'a compose service reads the env file but the deploy command restarts only other services',
  },
  bind: {
    id: 'RK502',
    name: 'compose-single-file-bind',
    severity: 'medium',
    summary:
      'the env file bind-mounted into a container as a single file (rename-based writes stay invisible)',
  },
} as const satisfies Record<string, Rule>;

const NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

interface EnvFileRef {
  readonly path: string;
  readonly raw: boolean;
}

/** A service's `env_file:` entries (string, list of strings, or list of `{ path, format }`). */
function envFiles(value: unknown): EnvFileRef[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.flatMap((e): EnvFileRef[] => {
    if (typeof e === 'string') return [{ path: e, raw: false }];
    if (e && typeof e === 'object' && typeof (e as { path?: unknown }).path === 'string') {
      return [{ path: (e as { path: string }).path, raw: (e as { format?: unknown }).format === 'raw' }];
    }
    return [];
  });
}

/** A service's bind mounts' sources (short `src:dst[:mode]` syntax and long `{ type: bind, source }`). */
function bindSources(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v): string[] => {
    if (typeof v === 'string') {
      const src = v.split(':')[0] ?? '';
      return src.startsWith('.') || src.startsWith('/') || src.startsWith('~') ? [src] : [];
    }
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'bind') {
      const src = (v as { source?: unknown }).source;
      return typeof src === 'string' ? [src] : [];
    }
    return [];
  });
}

const RESTARTING = new Set(['up', 'restart', 'create', 'start']);

/**
 * The services the deploy's compose commands name (`docker compose up -d api worker`,
 * `docker-compose restart api`), from the command and the script it runs (a file under the config's
 * folder); undefined when a compose command names none (every service) or none is found (rekey
 * cannot tell what the deploy restarts).
 */
async function restartedServices(command: string, dir: string): Promise<Set<string> | undefined> {
  const texts = [command];
  for (const word of command.split(/\s+/)) {
    const file = path.resolve(dir, word.replace(/^["']|["']$/g, ''));
    if (!file.startsWith(dir + path.sep)) continue;
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && text.length < 256 * 1024) texts.push(text);
  }
  const named = new Set<string>();
  let found = false;
  for (const text of texts) {
    for (const statement of text.split(/\n|;|&&|\|\|?/)) {
      const words = statement.trim().split(/\s+/);
      const at = words.findIndex(
        (w, i) => w === 'docker-compose' || (w === 'compose' && words[i - 1] === 'docker'),
      );
      if (at < 0) continue;
      const rest = words
        .slice(at + 1)
        .filter(
          (w, i, all) =>
            !w.startsWith('-') && !['-f', '--file', '-p', '--project-name'].includes(all[i - 1] ?? ''),
        );
      const verb = rest.findIndex((w) => RESTARTING.has(w));
      if (verb < 0) continue;
      found = true;
      const services = rest.slice(verb + 1).filter((w) => /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(w));
      if (services.length === 0) return undefined; // every service
      for (const s of services) named.add(s);
    }
  }
  return found ? named : undefined;
}

async function composeFiles(dirs: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of new Set(dirs)) {
    for (const name of NAMES) {
      const file = path.join(dir, name);
      if (
        await fs.stat(file).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        found.push(file);
    }
  }
  return found;
}

const realOrSelf = (p: string) => fs.realpath(p).catch(() => path.resolve(p));

export const composeCheck: Check<DoctorContext> = {
  name: 'compose',
  rules: Object.values(RULES),
  async run(ctx) {
    const envFile = ctx.loaded.envFile;
    if (envFile === undefined) return [];
    const envReal = ctx.loaded.envRealPath;
    const out: Finding[] = [];
    const dollarKeys = [...new Set(ctx.secrets.flatMap((s) => s.secretKeys))].filter((k) =>
      (ctx.values.get(k) ?? '').includes('$'),
    );
    const deploy = ctx.loaded.config.deploy;
    const restarted =
      deploy !== undefined && 'command' in deploy
        ? await restartedServices(deploy.command, ctx.loaded.dir)
        : undefined;
    for (const file of await composeFiles([path.dirname(envFile), ctx.loaded.dir])) {
      // An unreadable or invalid compose file throws: the runner reports "could not check compose".
      const doc = parse(await fs.readFile(file, 'utf8')) as {
        services?: Record<string, Record<string, unknown>>;
      } | null;
      const base = path.dirname(file);
      for (const [name, service] of Object.entries(doc?.services ?? {})) {
        if (service === null || typeof service !== 'object') continue;
        const reads = (
          await Promise.all(
            envFiles(service.env_file).map(
              async (ref) => (await realOrSelf(path.resolve(base, ref.path))) === envReal,
            ),
          )
        ).some(Boolean);
        if (reads && restarted !== undefined && !restarted.has(name)) {
          out.push({
            rule: RULES.notRestarted.id,
            severity: RULES.notRestarted.severity,
            message: `service ${name} reads ${path.basename(envFile)} but the deploy command restarts only ${[...restarted].join(', ') || 'no service'}`,
            why: 'A container reads env_file at start: this one keeps the old values after a rotation, and fails once the old credentials are retired.',
            fix: `Add ${name} to the deploy's compose command (or name no service, so all are recreated).`,
            location: { file },
          });
        }
        for (const ref of envFiles(service.env_file)) {
          if (
            (await realOrSelf(path.resolve(base, ref.path))) !== envReal ||
            ref.raw ||
            dollarKeys.length === 0
          )
            continue;
          out.push({
            rule: RULES.dollar.id,
            severity: RULES.dollar.severity,
            message: `service ${name} reads ${ref.path} with env_file and ${dollarKeys.join(', ')} contain \`$\``,
            why: 'compose interpolates `$` in env_file values: the container gets another value than the env file holds, and logins fail after a rotation.',
            fix: `Add \`format: raw\` to that env_file entry (compose 2.30+), or rotate the keys (rekey's values never contain \`$\`).`,
            keys: dollarKeys,
            location: { file },
          });
        }
        for (const src of bindSources(service.volumes)) {
          const resolved = src.startsWith('~') ? src : path.resolve(base, src);
          if ((await realOrSelf(resolved)) !== envReal) continue;
          out.push({
            rule: RULES.bind.id,
            severity: RULES.bind.severity,
            message: `service ${name} bind-mounts ${src} (the env file) as a single file`,
            why: 'rekey writes the env file atomically (a new file renamed over it); a single-file bind mount keeps the old inode, so the container never sees the new values.',
            fix: 'Pass the values with `env_file:` (read at container start, which the deploy restarts), or bind-mount the folder instead of the file.',
            location: { file },
          });
        }
      }
    }
    return out;
  },
};
