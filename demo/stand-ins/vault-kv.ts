/**
 * HashiCorp Vault KV v2 stand-in for tests and the demo (Vault itself cannot run here): the HTTP API
 * routes rekey uses, written from Vault's documentation (read, not copied):
 * - KV v2 secrets engine API: https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
 *   (`/:mount/config`, `/:mount/data/:path` read/create-update with `options.cas`, delete,
 *   `/:mount/delete|undelete|destroy/:path`, `/:mount/metadata/:path`)
 * - KV v2 concepts (versions, `max_versions`, check-and-set, soft delete / destroy):
 *   https://developer.hashicorp.com/vault/docs/secrets/kv/kv-v2
 * - `/sys/mounts/:path/tune` (options.version "2" marks KV v2),
 *   `/sys/internal/ui/mounts/:path` (what the vault CLI reads to tell KV v1 from v2),
 *   `/sys/capabilities-self`: https://developer.hashicorp.com/vault/api-docs/system
 * - AppRole login `/auth/approle/login`, `/auth/token/lookup-self`
 * - Errors: `{"errors":[...]}` bodies; 400 bad request (CAS mismatch: "check-and-set parameter did
 *   not match the current version"), 403 "permission denied" (missing, unknown or unauthorised
 *   token), 404 not found (`{"errors":[]}`), 429 rate limit quota, 500 internal error:
 *   https://developer.hashicorp.com/vault/api-docs#http-status-codes
 * - Namespaces (`X-Vault-Namespace`), optional: each namespace has its own mounts.
 *
 * Simplifications: one policy per token (path patterns with a trailing `*` glob), no leases, no
 * KV v1 data routes, no `delete_version_after`.
 */
import { randomUUID } from 'node:crypto';
import type { Answer, Classified, FaultKind, Handler, RunningStandIn, StandInRequest } from './harness.js';
import { serveStandIn } from './harness.js';

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'root' | 'deny';

/** A token's policy: path pattern (trailing `*` = prefix) → capabilities; or `root` (everything). */
export type VaultPolicy = 'root' | Readonly<Record<string, readonly Capability[]>>;

export interface VaultMountOptions {
  /** Mount path without slashes, e.g. `secret`. */
  readonly path: string;
  /** KV version (default `2`). */
  readonly version?: '1' | '2';
  /** The mount's `config` max_versions (0: Vault's default of 10). */
  readonly maxVersions?: number;
  readonly casRequired?: boolean;
  /** Namespace it lives in (default: the root namespace). */
  readonly namespace?: string;
}

export interface VaultStandInOptions {
  readonly host?: string;
  readonly port?: number;
  /** Token → policy (default: none; every request is then 403). */
  readonly tokens?: Readonly<Record<string, VaultPolicy>>;
  /** Default: one KV v2 mount at `secret`. */
  readonly mounts?: readonly VaultMountOptions[];
  /** Namespaces that exist besides the root one. */
  readonly namespaces?: readonly string[];
  /** AppRole credentials: a login with role_id + secret_id is given a token with `policy`. */
  readonly appRoles?: readonly { roleId: string; secretId: string; policy: VaultPolicy }[];
}

interface Version {
  data: Record<string, unknown> | null;
  created: string;
  deletionTime: string;
  destroyed: boolean;
}

interface Secret {
  versions: Map<number, Version>;
  current: number;
  oldest: number;
  maxVersions: number;
  casRequired: boolean;
  created: string;
  updated: string;
  customMetadata: Record<string, string> | null;
}

interface Mount {
  version: '1' | '2';
  maxVersions: number;
  casRequired: boolean;
  secrets: Map<string, Secret>;
}

const DEFAULT_MAX_VERSIONS = 10;
const CAS_MISMATCH = 'check-and-set parameter did not match the current version';
const errors = (status: number, ...messages: string[]): Answer => ({ status, body: { errors: messages } });
const denied = () => errors(403, 'permission denied');
const now = () => new Date().toISOString();

function envelope(data: unknown, extra: Record<string, unknown> = {}): Answer {
  return {
    status: 200,
    body: {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings: null,
      auth: null,
      ...extra,
    },
  };
}

/** Vault's effective max versions: the smaller of the secret's and the mount's when set, else 10. */
function maxVersionsOf(mount: Mount, secret: Secret): number {
  const set = [mount.maxVersions, secret.maxVersions].filter((n) => n > 0);
  return set.length === 0 ? DEFAULT_MAX_VERSIONS : Math.min(...set);
}

function versionMeta(v: Version, n: number) {
  return {
    created_time: v.created,
    custom_metadata: null,
    deletion_time: v.deletionTime,
    destroyed: v.destroyed,
    version: n,
  };
}

function capabilitiesOf(policy: VaultPolicy | undefined, path: string): Capability[] {
  if (policy === undefined) return ['deny'];
  if (policy === 'root') return ['root'];
  let best: { len: number; caps: readonly Capability[] } | undefined;
  for (const [pattern, caps] of Object.entries(policy)) {
    const glob = pattern.endsWith('*');
    const stem = glob ? pattern.slice(0, -1) : pattern;
    const hit = glob ? path.startsWith(stem) : path === stem;
    // The most specific pattern wins; an exact path beats any glob.
    const len = glob ? stem.length : Number.MAX_SAFE_INTEGER;
    if (hit && (best === undefined || len > best.len)) best = { len, caps };
  }
  return best === undefined || best.caps.length === 0 ? ['deny'] : [...best.caps].sort();
}

const allows = (caps: readonly Capability[], cap: Capability) =>
  !caps.includes('deny') && (caps.includes('root') || caps.includes(cap));

/** The Vault KV v2 request handler (state in memory); exported for tests that want it without HTTP. */
export class VaultKvHandler implements Handler {
  readonly contentType = 'application/json';
  private readonly tokens = new Map<string, VaultPolicy>();
  private readonly namespaces: Set<string>;
  /** `${namespace}\0${mount}` → mount. */
  private readonly mounts = new Map<string, Mount>();
  private readonly appRoles: VaultStandInOptions['appRoles'];

  constructor(options: VaultStandInOptions = {}) {
    for (const [token, policy] of Object.entries(options.tokens ?? {})) this.tokens.set(token, policy);
    this.namespaces = new Set(['', ...(options.namespaces ?? []).map((n) => n.replace(/^\/+|\/+$/g, ''))]);
    for (const m of options.mounts ?? [{ path: 'secret' }]) {
      this.mounts.set(`${m.namespace ?? ''}\0${m.path}`, {
        version: m.version ?? '2',
        maxVersions: m.maxVersions ?? 0,
        casRequired: m.casRequired ?? false,
        secrets: new Map(),
      });
    }
    this.appRoles = options.appRoles ?? [];
  }

  /** Test hook: writes a version as another client would (no token, no fault). Returns its number. */
  writeDirect(mountPath: string, path: string, data: Record<string, unknown>, namespace = ''): number {
    const mount = this.mounts.get(`${namespace}\0${mountPath}`);
    if (mount === undefined) throw new Error(`no mount ${mountPath}`);
    return this.write(mount, path, data);
  }

  classify(req: StandInRequest): Classified {
    const rest = req.url.pathname.replace(/^\/v1\//, '');
    if (rest === 'auth/approle/login')
      return { op: 'vault.login', write: false, loggedBody: '[credentials]' };
    if (rest.startsWith('sys/') || rest.startsWith('auth/'))
      return { op: `vault.${rest.split('/').slice(0, 2).join('.')}`, write: false };
    const sub = this.route(req)?.sub;
    const method = req.method.toUpperCase();
    if (sub === 'data' && (method === 'POST' || method === 'PUT' || method === 'PATCH'))
      return { op: 'vault.write', write: true };
    if (sub === 'data' && method === 'GET') return { op: 'vault.read', write: false };
    return { op: `vault.${sub ?? 'unknown'}.${method.toLowerCase()}`, write: method !== 'GET' };
  }

  fault(kind: Exclude<FaultKind, 'drop'>): Answer {
    switch (kind) {
      case 'conflict':
        return errors(400, CAS_MISMATCH);
      case 'throttle':
        return errors(429, 'request path "stand-in": rate limit quota exceeded');
      case 'denied':
        return denied();
      case 'error500':
        return errors(500, '1 error occurred:\n\t* internal error\n\n');
    }
  }

  private route(req: StandInRequest) {
    const ns = String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, '');
    const rest = req.url.pathname.replace(/^\/v1\//, '');
    // The longest mount path that prefixes the request path, in the request's namespace.
    let found: { key: string; mountPath: string } | undefined;
    for (const key of this.mounts.keys()) {
      const [mns, mountPath = ''] = key.split('\0');
      if (mns !== ns) continue;
      if (
        (rest === mountPath || rest.startsWith(`${mountPath}/`)) &&
        mountPath.length > (found?.mountPath.length ?? -1)
      )
        found = { key, mountPath };
    }
    if (found === undefined) return undefined;
    const after = rest.slice(found.mountPath.length + 1);
    const slash = after.indexOf('/');
    const sub = slash < 0 ? after : after.slice(0, slash);
    const path = slash < 0 ? '' : after.slice(slash + 1).replace(/\/+$/, '');
    return { ns, mount: this.mounts.get(found.key)!, mountPath: found.mountPath, sub, path };
  }

  handle(req: StandInRequest): Answer {
    const ns = String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, '');
    const rest = req.url.pathname.replace(/^\/v1\//, '');
    const method = req.method.toUpperCase();
    const body = (req.json ?? {}) as Record<string, unknown>;

    if (!this.namespaces.has(ns))
      return errors(404, `no handler for route "${rest}". route entry not found.`);
    if (rest === 'auth/approle/login' && (method === 'POST' || method === 'PUT')) return this.login(body);

    const tokenHeader = req.headers['x-vault-token'] ?? req.headers.authorization?.replace(/^Bearer\s+/i, '');
    const policy = typeof tokenHeader === 'string' ? this.tokens.get(tokenHeader) : undefined;
    if (policy === undefined) return denied();
    const caps = (p: string) => capabilitiesOf(policy, p);

    if (rest === 'auth/token/lookup-self' && method === 'GET')
      return envelope({
        policies: policy === 'root' ? ['root'] : ['default'],
        ttl: 0,
        renewable: false,
        type: 'service',
      });
    if (rest === 'sys/capabilities-self' && (method === 'POST' || method === 'PUT')) {
      const paths = Array.isArray(body.paths)
        ? body.paths.map(String)
        : typeof body.path === 'string'
          ? [body.path]
          : [];
      if (paths.length === 0) return errors(400, "'paths' must be specified");
      const data: Record<string, Capability[]> = {};
      for (const p of paths) data[p] = caps(p);
      const single = paths.length === 1 ? { capabilities: data[paths[0]!] } : {};
      return envelope({ ...data, ...single }, { ...data, ...single });
    }
    const tune = /^sys\/mounts\/(.+)\/tune$/.exec(rest);
    const uiMount = /^sys\/internal\/ui\/mounts\/(.+)$/.exec(rest);
    if ((tune !== null || uiMount !== null) && method === 'GET') {
      const asked = (tune?.[1] ?? uiMount?.[1] ?? '').replace(/\/+$/, '');
      const entry = [...this.mounts.entries()].find(([key]) => {
        const [mns, mp = ''] = key.split('\0');
        return mns === ns && (asked === mp || asked.startsWith(`${mp}/`));
      });
      if (tune !== null && !allows(caps(rest), 'read')) return denied();
      if (entry === undefined) return errors(400, `cannot fetch sysview for path "${asked}/"`);
      const [key, mount] = entry;
      const mountPath = key.split('\0')[1] ?? '';
      const info = {
        default_lease_ttl: 2764800,
        max_lease_ttl: 2764800,
        force_no_cache: false,
        description: 'key/value secret storage',
        options: { version: mount.version },
      };
      if (tune !== null) return envelope(info, info);
      return envelope({ ...info, path: `${mountPath}/`, type: 'kv' });
    }

    const r = this.route(req);
    if (r === undefined) return errors(404, `no handler for route "${rest}". route entry not found.`);
    const { mount, mountPath, sub, path } = r;
    if (mount.version !== '2') return errors(404, `no handler for route "${rest}". route entry not found.`);
    const apiPath = `${mountPath}/${sub}${path === '' ? '' : `/${path}`}`;
    const can = (cap: Capability) => allows(caps(apiPath), cap);

    if (sub === 'config') {
      if (method === 'GET') {
        if (!can('read')) return denied();
        return envelope({
          cas_required: mount.casRequired,
          delete_version_after: '0s',
          max_versions: mount.maxVersions,
        });
      }
      if (!can('update')) return denied();
      if (typeof body.max_versions === 'number') mount.maxVersions = body.max_versions;
      if (typeof body.cas_required === 'boolean') mount.casRequired = body.cas_required;
      return { status: 204 };
    }
    if (path === '') return errors(404, `no handler for route "${rest}". route entry not found.`);
    const secret = mount.secrets.get(path);

    switch (`${sub} ${method}`) {
      case 'data GET': {
        if (!can('read')) return denied();
        if (secret === undefined) return errors(404);
        const asked = Number(req.url.searchParams.get('version') ?? 0);
        const n = asked > 0 ? asked : secret.current;
        const v = secret.versions.get(n);
        if (v === undefined) return errors(404);
        const metadata = { ...versionMeta(v, n), custom_metadata: secret.customMetadata };
        if (v.destroyed || v.deletionTime !== '')
          return { status: 404, body: envelope({ data: null, metadata }).body };
        return envelope({ data: v.data, metadata });
      }
      case 'data POST':
      case 'data PUT': {
        if (!can(secret === undefined ? 'create' : 'update')) return denied();
        const data = body.data;
        if (typeof data !== 'object' || data === null || Array.isArray(data))
          return errors(400, 'no data provided');
        const options = (body.options ?? {}) as Record<string, unknown>;
        const cas = options.cas;
        const casRequired = mount.casRequired || secret?.casRequired === true;
        if (cas === undefined && casRequired)
          return errors(400, 'check-and-set parameter required for this call');
        if (cas !== undefined && Number(cas) !== (secret?.current ?? 0)) return errors(400, CAS_MISMATCH);
        const n = this.write(mount, path, data as Record<string, unknown>);
        const v = mount.secrets.get(path)!.versions.get(n)!;
        return envelope(versionMeta(v, n));
      }
      case 'data DELETE': {
        if (!can('delete')) return denied();
        const v = secret?.versions.get(secret.current);
        if (v !== undefined && v.deletionTime === '') v.deletionTime = now();
        return { status: 204 };
      }
      case 'delete POST':
      case 'delete PUT':
      case 'undelete POST':
      case 'undelete PUT':
      case 'destroy POST':
      case 'destroy PUT': {
        if (!can('update')) return denied();
        const versions = Array.isArray(body.versions) ? body.versions.map(Number) : [];
        if (versions.length === 0) return errors(400, 'no version number provided');
        for (const n of versions) {
          const v = secret?.versions.get(n);
          if (v === undefined) continue;
          if (sub === 'delete' && v.deletionTime === '' && !v.destroyed) v.deletionTime = now();
          if (sub === 'undelete' && !v.destroyed) v.deletionTime = '';
          if (sub === 'destroy') {
            v.destroyed = true;
            v.data = null;
          }
        }
        return { status: 204 };
      }
      case 'metadata GET': {
        if (!can('read')) return denied();
        if (secret === undefined) return errors(404);
        const versions: Record<string, unknown> = {};
        for (const [n, v] of secret.versions) {
          const { version: _n, custom_metadata: _c, ...rest } = versionMeta(v, n);
          versions[String(n)] = rest;
        }
        return envelope({
          cas_required: secret.casRequired,
          created_time: secret.created,
          current_version: secret.current,
          custom_metadata: secret.customMetadata,
          delete_version_after: '0s',
          max_versions: secret.maxVersions,
          oldest_version: secret.oldest,
          updated_time: secret.updated,
          versions,
        });
      }
      case 'metadata POST':
      case 'metadata PUT': {
        if (!can(secret === undefined ? 'create' : 'update')) return denied();
        const s = secret ?? this.emptySecret(mount, path);
        if (typeof body.max_versions === 'number') s.maxVersions = body.max_versions;
        if (typeof body.cas_required === 'boolean') s.casRequired = body.cas_required;
        if (typeof body.custom_metadata === 'object' && body.custom_metadata !== null)
          s.customMetadata = body.custom_metadata as Record<string, string>;
        s.updated = now();
        return { status: 204 };
      }
      case 'metadata DELETE':
        if (!can('delete')) return denied();
        mount.secrets.delete(path);
        return { status: 204 };
      default:
        return errors(405);
    }
  }

  private emptySecret(mount: Mount, path: string): Secret {
    const t = now();
    const s: Secret = {
      versions: new Map(),
      current: 0,
      oldest: 0,
      maxVersions: 0,
      casRequired: false,
      created: t,
      updated: t,
      customMetadata: null,
    };
    mount.secrets.set(path, s);
    return s;
  }

  private write(mount: Mount, path: string, data: Record<string, unknown>): number {
    const s = mount.secrets.get(path) ?? this.emptySecret(mount, path);
    const t = now();
    s.current += 1;
    s.versions.set(s.current, {
      data: structuredClone(data),
      created: t,
      deletionTime: '',
      destroyed: false,
    });
    if (s.oldest === 0) s.oldest = s.current;
    s.updated = t;
    // Versions beyond max_versions are removed, oldest first.
    const max = maxVersionsOf(mount, s);
    while (s.versions.size > max) {
      s.versions.delete(s.oldest);
      s.oldest += 1;
    }
    return s.current;
  }

  private login(body: Record<string, unknown>): Answer {
    const role = this.appRoles?.find((r) => r.roleId === body.role_id);
    if (role === undefined) return errors(400, 'invalid role ID');
    if (role.secretId !== body.secret_id) return errors(400, 'invalid secret id');
    const token = `hvs.stand-in-${randomUUID()}`;
    this.tokens.set(token, role.policy);
    return {
      status: 200,
      body: {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: null,
        wrap_info: null,
        warnings: null,
        auth: {
          client_token: token,
          accessor: randomUUID(),
          policies: ['default'],
          token_policies: ['default'],
          metadata: { role_name: 'rekey' },
          lease_duration: 3600,
          renewable: true,
          token_type: 'service',
        },
      },
    };
  }
}

export interface VaultStandIn extends RunningStandIn {
  readonly handler: VaultKvHandler;
}

/**
 * Starts a Vault KV v2 stand-in on 127.0.0.1.
 *
 * @example
 * const vault = await startVaultStandIn({ tokens: { 'test-token': 'root' } });
 * await fetch(`${vault.url}/v1/secret/data/app`, { method: 'POST', headers: { 'x-vault-token': 'test-token' },
 *   body: JSON.stringify({ data: { A: '1' }, options: { cas: 0 } }) });
 * await vault.close();
 */
export async function startVaultStandIn(options: VaultStandInOptions = {}): Promise<VaultStandIn> {
  const handler = new VaultKvHandler(options);
  const running = await serveStandIn(handler, options);
  return Object.assign(running, { handler });
}
