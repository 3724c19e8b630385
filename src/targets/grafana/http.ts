/**
 * One HTTP request to the Grafana API with global `fetch`: basic auth in the Authorization header,
 * a per-request timeout, no automatic retry, redirects not followed (a password is never re-sent to
 * another address). Transport failures become ERR_TARGET_UNREACHABLE; answers are returned as they
 * came, for the caller to judge (answers.ts).
 */
import { RekeyError } from '../../lib/errors.js';
import { safeMessage } from '../../lib/redact.js';
import type { GrafanaEndpoint } from './endpoint.js';

export const REQUEST_TIMEOUT_MS = 5_000;

/** What Grafana answered, reduced to what rekey judges; no secret in it. */
export interface Answer {
  readonly status: number;
  /** Grafana's `message`, redacted, one line, at most 200 characters. */
  readonly message: string | undefined;
  /** Grafana's `messageId` (errutil errors of current versions). */
  readonly messageId: string | undefined;
  /** Where a 3xx points, without query. */
  readonly location: string | undefined;
  /** `METHOD /path`, for messages. */
  readonly what: string;
  /** The parsed JSON body (lists of sessions and tokens: ids, names, times; never a secret rekey sent). */
  readonly data?: unknown;
}

/** One request: the API path under the Grafana root, the password to authenticate with, a JSON body. */
export interface Call {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Under the Grafana root, without a leading slash (`api/user`, `api/serviceaccounts/search?perpage=1000`). */
  readonly path: string;
  readonly password: string;
  readonly json?: Readonly<Record<string, string | number>>;
}

export interface SendOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Sends one request and returns Grafana's answer; throws ERR_TARGET_UNREACHABLE when none came.
 *
 * @example
 * const a = await send(ep, { method: 'GET', path: 'api/user', password: cur }, { timeoutMs: 5000 });
 * a.status; // 200
 */
export async function send(ep: GrafanaEndpoint, call: Call, options: SendOptions): Promise<Answer> {
  const what = `${call.method} /${call.path.replace(/\?.*$/, '')}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const headers: Record<string, string> = {
    accept: 'application/json',
    authorization: basicAuth(ep.user, call.password),
  };
  if (call.json) headers['content-type'] = 'application/json';
  const secrets = [call.password, ...Object.values(call.json ?? {}).filter((v) => typeof v === 'string')];
  try {
    const res = await fetch(new URL(call.path, ep.base), {
      method: call.method,
      headers,
      body: call.json ? JSON.stringify(call.json) : null,
      redirect: 'manual',
      signal,
    });
    const text = await res.text();
    const body = parseBody(text);
    const location = res.headers.get('location');
    return {
      status: res.status,
      data: parseJson(text),
      message: body.message === undefined ? undefined : clean(body.message, secrets, ep.key),
      messageId: body.messageId,
      location: location === null ? undefined : clean(withoutQuery(location, ep.base), secrets, ep.key),
      what,
    };
  } catch (err) {
    throw transportError(ep, what, err, options, secrets);
  }
}

/** `Basic base64(user:password)`, UTF-8, as Go's `Request.BasicAuth` decodes it. */
function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseBody(text: string): { message?: string; messageId?: string } {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null) return {};
    const { message, messageId } = json as Record<string, unknown>;
    return {
      ...(typeof message === 'string' ? { message } : {}),
      ...(typeof messageId === 'string' ? { messageId } : {}),
    };
  } catch {
    return {};
  }
}

/** One redacted line; the values of this request are masked even when the redactor does not know them. */
function clean(text: string, secrets: readonly string[], key: string): string {
  let out = safeMessage(text);
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(`[REDACTED:${key}]`);
  return out.length > 200 ? `${out.slice(0, 199)}…` : out;
}

function withoutQuery(location: string, base: URL): string {
  try {
    const u = new URL(location, base);
    return `${u.origin}${u.pathname}`;
  } catch {
    return location;
  }
}

function transportError(
  ep: GrafanaEndpoint,
  what: string,
  err: unknown,
  options: SendOptions,
  secrets: readonly string[],
): RekeyError {
  const where = `${ep.key}: Grafana ${ep.display} (${what})`;
  if (options.signal?.aborted) {
    return new RekeyError('ERR_INTERRUPTED', `${where}: request aborted`, { cause: err });
  }
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new RekeyError(
      'ERR_TARGET_UNREACHABLE',
      `${where}: no answer within ${options.timeoutMs / 1000} s (not retried)`,
      {
        cause: err,
        hint: 'Check Grafana is up and `url` is right. If this was a password change, run again: rekey first checks which password Grafana accepts.',
      },
    );
  }
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const text = typeof code === 'string' ? code : clean(safeMessage(cause ?? err), secrets, ep.key);
  const tls = typeof code === 'string' && /CERT|SSL|TLS/.test(code);
  return new RekeyError('ERR_TARGET_UNREACHABLE', `${where}: ${describeCode(text)}`, {
    cause: err,
    ...(tls
      ? { hint: "Make Node trust Grafana's certificate (NODE_EXTRA_CA_CERTS=/path/to/ca.pem), or fix `url`." }
      : {}),
  });
}

function describeCode(code: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  if (code === 'ENOTFOUND') return 'host not found (ENOTFOUND)';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection closed by the server (${code})`;
  return code || 'request failed';
}
