/**
 * A small typed client for the parts of Vault's HTTP API the vault-kv store uses: KV v2 read / write
 * with check-and-set, metadata, the mount's KV version and config, `sys/capabilities-self`, and
 * AppRole login. Written over `fetch` because no maintained Node client fits (node-vault, the usual
 * one, is unmaintained); the API is small and documented:
 * https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
 *
 * Authentication as the vault CLI: `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_NAMESPACE`; or a token file;
 * or AppRole (`role_id` + a file holding the `secret_id`). The token is held in a private field (never
 * enumerable, never in a message). Errors are {@link RekeyError}s naming the path, never a value or a
 * token. 429 and 5xx answers and network errors are retried with backoff within a bounded time.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { RekeyError } from '../../lib/errors.js';
import { isLoopback } from '../../lib/loopback.js';

export interface VaultAuthConfig {
  /** Vault's address (default: VAULT_ADDR). */
  readonly address?: string;
  /** Enterprise namespace (default: VAULT_NAMESPACE). */
  readonly namespace?: string;
  /** A file holding the token (trimmed). */
  readonly tokenFile?: string;
  /** AppRole login: the role id, a file holding the secret id, the auth mount (default `approle`). */
  readonly appRole?: { readonly roleId: string; readonly secretIdFile: string; readonly mount?: string };
}

export interface VaultClientOptions {
  /** Total time one call may take, retries included (default 15 s). */
  readonly timeoutMs?: number;
  /** Attempts on 429 / 5xx / network errors (default 4). */
  readonly attempts?: number;
  /** First backoff delay, doubled each retry, with jitter (default 200 ms). */
  readonly backoffMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** One KV v2 version as read. */
export interface KvVersion {
  /** Null when the version is deleted or destroyed. */
  readonly data: Readonly<Record<string, unknown>> | null;
  readonly version: number;
  readonly deleted: boolean;
  readonly destroyed: boolean;
  /** The version's `created_time` (RFC 3339), when Vault gave one. */
  readonly created?: string;
}

export interface KvMetadata {
  readonly currentVersion: number;
  readonly oldestVersion: number;
  /** The secret's own max_versions (0: the mount's). */
  readonly maxVersions: number;
  readonly casRequired: boolean;
  /** Versions still kept (deleted ones included, destroyed marked). */
  readonly versions: ReadonlyMap<number, { readonly deleted: boolean; readonly destroyed: boolean }>;
}

const CAS_MISMATCH = /check-and-set parameter did not match/i;

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/**
 * A Vault client for one address and namespace.
 *
 * @example
 * const vault = await VaultClient.connect({ address: 'http://127.0.0.1:8200' }); // token from VAULT_TOKEN
 * const v = await vault.read('secret', 'bi/production'); // { data: {...}, version: 3, ... } or undefined
 * await vault.write('secret', 'bi/production', { ...v.data, JWT_SECRET: next }, v.version);
 */
export class VaultClient {
  readonly address: string;
  readonly namespace: string | undefined;
  #token: string | undefined;
  readonly #appRole: VaultAuthConfig['appRole'];
  readonly #options: Required<Omit<VaultClientOptions, 'env'>>;

  private constructor(
    address: string,
    namespace: string | undefined,
    token: string | undefined,
    appRole: VaultAuthConfig['appRole'],
    options: VaultClientOptions,
  ) {
    this.address = address.replace(/\/+$/, '');
    this.namespace = namespace;
    this.#token = token;
    this.#appRole = appRole;
    this.#options = {
      timeoutMs: options.timeoutMs ?? 15_000,
      attempts: options.attempts ?? 4,
      backoffMs: options.backoffMs ?? 200,
    };
  }

  /**
   * Resolves address, namespace and credentials (AppRole, else the token file, else VAULT_TOKEN,
   * else ~/.vault-token as the vault CLI) without calling Vault; AppRole logs in on first use.
   */
  static async connect(config: VaultAuthConfig, options: VaultClientOptions = {}): Promise<VaultClient> {
    const env = options.env ?? process.env;
    const address = config.address ?? env.VAULT_ADDR;
    if (address === undefined || address === '')
      throw new RekeyError('ERR_STORE_UNSUITABLE', 'vault-kv: no Vault address', {
        hint: 'Set `store.address` in rekey.yaml or VAULT_ADDR (e.g. https://vault.example.com:8200).',
      });
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      throw new RekeyError('ERR_STORE_UNSUITABLE', 'vault-kv: the Vault address is not a URL', {
        hint: 'Write it as http(s)://HOST:PORT.',
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new RekeyError('ERR_STORE_UNSUITABLE', `vault-kv: unsupported scheme ${url.protocol}`, {
        hint: 'Write the address as http(s)://HOST:PORT.',
      });
    if (url.protocol === 'http:' && !isLoopback(url.hostname))
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: ${url.host} over plain http would send the token and the values in clear text`,
        {
          hint: 'Use https:// for a Vault off this machine (http:// is accepted for 127.0.0.1, ::1 and localhost only).',
        },
      );
    const namespace = config.namespace ?? (env.VAULT_NAMESPACE || undefined);
    let token: string | undefined;
    if (config.appRole === undefined) {
      if (config.tokenFile !== undefined) token = await readCredential(config.tokenFile, 'token file');
      else if (env.VAULT_TOKEN) token = env.VAULT_TOKEN.trim();
      else
        token = await readCredential(path.join(homedir(), '.vault-token'), 'token file').catch(
          () => undefined,
        );
      if (token === undefined || token === '')
        throw new RekeyError('ERR_STORE_AUTH', 'vault-kv: no Vault token', {
          hint: 'Set VAULT_TOKEN, `store.tokenFile`, or `store.appRole` (roleId + secretIdFile) in rekey.yaml.',
        });
    }
    return new VaultClient(url.toString(), namespace, token, config.appRole, options);
  }

  /** Where the client talks to, one line, no secret. */
  describe(): string {
    return `${this.address}${this.namespace === undefined ? '' : ` namespace ${this.namespace}`}`;
  }

  private async token(): Promise<string> {
    if (this.#token !== undefined) return this.#token;
    const role = this.#appRole!;
    const secretId = await readCredential(role.secretIdFile, 'AppRole secret_id file');
    const answer = await this.call('POST', `auth/${role.mount ?? 'approle'}/login`, {
      body: { role_id: role.roleId, secret_id: secretId },
      auth: false,
    });
    if (answer.status === 400)
      throw new RekeyError(
        'ERR_STORE_AUTH',
        'vault-kv: AppRole login refused (invalid role_id or secret_id)',
        {
          hint: 'Check `store.appRole.roleId` and the secret_id file; a secret_id may have expired or been used up.',
        },
      );
    this.expect(answer, 'AppRole login');
    const token = (answer.body as { auth?: { client_token?: unknown } } | undefined)?.auth?.client_token;
    if (typeof token !== 'string' || token === '')
      throw new RekeyError('ERR_STORE_REJECTED', 'vault-kv: AppRole login answered without a token');
    this.#token = token;
    return token;
  }

  /**
   * One HTTP call, retried on 429 / 5xx / network errors with exponential backoff and jitter, all
   * within `timeoutMs`. Returns the status and parsed JSON body (undefined when empty).
   */
  private async call(
    method: string,
    apiPath: string,
    options: { body?: unknown; auth?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    const deadline = Date.now() + this.#options.timeoutMs;
    const headers: Record<string, string> = {};
    if (options.auth !== false) headers['x-vault-token'] = await this.token();
    if (this.namespace !== undefined) headers['x-vault-namespace'] = this.namespace;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let last = '';
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      try {
        if (left <= 0) throw new Error('deadline');
        const res = await fetch(`${this.address}/v1/${apiPath}`, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(left),
          // A redirect would carry X-Vault-Token to wherever it points: never follow one.
          redirect: 'manual',
        });
        if (res.status >= 300 && res.status < 400) {
          await res.body?.cancel();
          throw new RekeyError(
            'ERR_STORE_UNSUITABLE',
            `vault-kv: ${this.address} answered a redirect (HTTP ${res.status}); rekey does not follow it with the token`,
            { hint: "Point `store.address` at the active Vault node or at the cluster's load balancer." },
          );
        }
        const text = await res.text();
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (res.status !== 429 && res.status < 500) return { status: res.status, body };
        last = `HTTP ${res.status}${errorsOf(body) === '' ? '' : `: ${errorsOf(body)}`}`;
      } catch (e) {
        if (e instanceof RekeyError) throw e;
        last = e instanceof Error && e.message === 'deadline' ? 'timed out' : networkReason(e);
      }
      const delay = Math.min(this.#options.backoffMs * 2 ** (attempt - 1), 5_000) * (0.5 + Math.random() / 2);
      if (attempt >= this.#options.attempts || Date.now() + delay >= deadline)
        throw new RekeyError(
          'ERR_STORE_UNREACHABLE',
          `vault-kv: ${method} ${apiPath} at ${this.address} failed after ${attempt} attempt(s): ${last}`,
        );
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Throws the right RekeyError for anything but 2xx. */
  private expect(answer: { status: number; body: unknown }, what: string): void {
    if (answer.status >= 200 && answer.status < 300) return;
    const reason = errorsOf(answer.body);
    if (answer.status === 403)
      throw new RekeyError('ERR_STORE_AUTH', `vault-kv: ${what}: permission denied`, {
        hint: 'The token is unknown, expired, or its policy lacks the capability on that path; `vault token capabilities PATH` shows them.',
      });
    if (answer.status === 400 && CAS_MISMATCH.test(reason))
      throw new RekeyError(
        'ERR_STORE_CONFLICT',
        `vault-kv: ${what}: another writer changed the secret (check-and-set failed)`,
      );
    throw new RekeyError(
      'ERR_STORE_REJECTED',
      `vault-kv: ${what}: HTTP ${answer.status}${reason === '' ? '' : ` (${reason})`}`,
    );
  }

  /** The KV version of `mount` (`1`, `2`), or undefined when there is no such mount. */
  async kvVersion(mount: string): Promise<{ type: string; version: string } | undefined> {
    const a = await this.call('GET', `sys/internal/ui/mounts/${mount}`);
    if (a.status === 400 || a.status === 404) return undefined;
    this.expect(a, `mount ${mount}`);
    const data = (a.body as { data?: { type?: unknown; options?: { version?: unknown } | null } }).data;
    return { type: String(data?.type ?? ''), version: String(data?.options?.version ?? '1') };
  }

  /** The mount's KV v2 config, or undefined when the token may not read it. */
  async mountConfig(mount: string): Promise<{ maxVersions: number; casRequired: boolean } | undefined> {
    const a = await this.call('GET', `${mount}/config`);
    if (a.status === 403 || a.status === 404) return undefined;
    this.expect(a, `${mount}/config`);
    const data = (a.body as { data?: { max_versions?: unknown; cas_required?: unknown } }).data ?? {};
    return { maxVersions: Number(data.max_versions ?? 0), casRequired: data.cas_required === true };
  }

  /** The token's capabilities on each path (`deny` when none). */
  async capabilities(paths: readonly string[]): Promise<Record<string, string[]>> {
    const a = await this.call('POST', 'sys/capabilities-self', { body: { paths } });
    this.expect(a, 'sys/capabilities-self');
    const body = a.body as Record<string, unknown> & { data?: Record<string, unknown> };
    const out: Record<string, string[]> = {};
    for (const p of paths) {
      const caps = body.data?.[p] ?? body[p];
      out[p] = Array.isArray(caps) ? caps.map(String) : ['deny'];
    }
    return out;
  }

  /** A version of the secret (default: the current one); undefined when the secret or version does not exist. */
  async read(mount: string, secretPath: string, version?: number): Promise<KvVersion | undefined> {
    const q = version === undefined ? '' : `?version=${version}`;
    const a = await this.call('GET', `${mount}/data/${secretPath}${q}`);
    const body = a.body as
      | { data?: { data?: unknown; metadata?: Record<string, unknown> } | null }
      | undefined;
    if (a.status === 404) {
      // Deleted or destroyed versions answer 404 with their metadata.
      const meta = body?.data?.metadata;
      if (meta === undefined) return undefined;
      return {
        data: null,
        version: Number(meta.version),
        deleted: meta.deletion_time !== '' && meta.deletion_time !== undefined,
        destroyed: meta.destroyed === true,
      };
    }
    this.expect(a, `read ${mount}/data/${secretPath}`);
    const data = body?.data?.data;
    const meta = body?.data?.metadata ?? {};
    if (!Number.isInteger(Number(meta.version)))
      throw new RekeyError(
        'ERR_STORE_UNSUITABLE',
        `vault-kv: ${mount}/data/${secretPath} answered without a KV v2 version (is ${mount}/ a KV v2 mount?)`,
      );
    return {
      data: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null,
      version: Number(meta.version),
      deleted: false,
      destroyed: false,
      ...(typeof meta.created_time === 'string' ? { created: meta.created_time } : {}),
    };
  }

  /**
   * Writes a new version only if the current one is `cas` (0: only if the secret does not exist);
   * returns the new version number. ERR_STORE_CONFLICT when another writer got there first.
   */
  async write(
    mount: string,
    secretPath: string,
    data: Readonly<Record<string, unknown>>,
    cas: number,
  ): Promise<number> {
    const a = await this.call('POST', `${mount}/data/${secretPath}`, { body: { options: { cas }, data } });
    this.expect(a, `write ${mount}/data/${secretPath}`);
    const version = Number((a.body as { data?: { version?: unknown } } | undefined)?.data?.version);
    if (!Number.isInteger(version))
      throw new RekeyError(
        'ERR_STORE_REJECTED',
        `vault-kv: write ${mount}/data/${secretPath} answered without a version`,
      );
    return version;
  }

  /** The secret's metadata, or undefined when it does not exist. */
  async metadata(mount: string, secretPath: string): Promise<KvMetadata | undefined> {
    const a = await this.call('GET', `${mount}/metadata/${secretPath}`);
    if (a.status === 404) return undefined;
    this.expect(a, `read ${mount}/metadata/${secretPath}`);
    const d = ((a.body as { data?: Record<string, unknown> }).data ?? {}) as Record<string, unknown>;
    const versions = new Map<number, { deleted: boolean; destroyed: boolean }>();
    for (const [n, v] of Object.entries((d.versions ?? {}) as Record<string, Record<string, unknown>>))
      versions.set(Number(n), {
        deleted: v.deletion_time !== '' && v.deletion_time !== undefined,
        destroyed: v.destroyed === true,
      });
    return {
      currentVersion: Number(d.current_version ?? 0),
      oldestVersion: Number(d.oldest_version ?? 0),
      maxVersions: Number(d.max_versions ?? 0),
      casRequired: d.cas_required === true,
      versions,
    };
  }
}

function errorsOf(body: unknown): string {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? oneLine(errors.map(String).join('; ')) : '';
}

function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (e instanceof Error && e.name === 'TimeoutError') return 'timed out';
  return 'network error';
}

async function readCredential(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new RekeyError('ERR_STORE_AUTH', `vault-kv: cannot read the ${what} ${file} (${code})`, {
      hint: 'Point rekey.yaml at a readable file holding only the credential.',
    });
  }
  const value = text.trim();
  if (value === '')
    throw new RekeyError('ERR_STORE_AUTH', `vault-kv: the ${what} ${file} is empty`, {
      hint: 'Write the credential into the file (one line).',
    });
  return value;
}
