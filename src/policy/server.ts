/**
 * The HTTP server of `rekey serve`: `GET /metrics` in the Prometheus text format, computed at each
 * scrape, and any read-only routes given (the dashboard). It binds to loopback by default; binding to
 * any other address requires a bearer token read from a file (never from argv, where `ps` shows it),
 * compared in constant time (TLS optional beside it). Every response carries a strict Content-Security-Policy.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import { RekeyError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { redactor, safeMessage } from '../lib/redact.js';

export { DEFAULT_HOST, DEFAULT_PORT } from './server-defaults.js';

export const MIN_TOKEN_LENGTH = 16;

/**
 * True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost.
 *
 * @example
 * isLoopback('127.0.0.1'); // true
 * isLoopback('0.0.0.0'); // false
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}

/**
 * Reads the bearer token from a file (first line, trimmed) and registers it with the redactor.
 * Throws ERR_SERVE_TOKEN when it is unreadable or shorter than {@link MIN_TOKEN_LENGTH}.
 *
 * @example
 * const token = await readToken('/etc/rekey/metrics-token');
 */
export async function readToken(file: string, log?: Logger): Promise<string> {
  let text: string;
  let mode: number;
  try {
    text = await fs.readFile(file, 'utf8');
    mode = (await fs.stat(file)).mode;
  } catch (e) {
    throw new RekeyError(
      'ERR_SERVE_TOKEN',
      `cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const token = (text.split('\n')[0] ?? '').trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new RekeyError(
      'ERR_SERVE_TOKEN',
      `the token in ${file} is shorter than ${MIN_TOKEN_LENGTH} characters`,
    );
  }
  redactor.add('METRICS_TOKEN', token);
  if ((mode & 0o077) !== 0) log?.warn(`${file} is readable by other users: chmod 600 it`);
  return token;
}

/**
 * Refuses (ERR_SERVE_UNPROTECTED) to expose metrics and the dashboard beyond loopback without a
 * token (DESIGN.md: a non-loopback address needs `--token-file`). TLS alone is not enough: it hides
 * the traffic but lets anyone who reaches the port read the page.
 *
 * @example
 * assertExposureAllowed('0.0.0.0', undefined); // throws, with or without TLS
 * assertExposureAllowed('0.0.0.0', '/etc/rekey/token'); // allowed
 */
export function assertExposureAllowed(host: string, tokenFile: string | undefined): void {
  if (isLoopback(host) || tokenFile !== undefined) return;
  throw new RekeyError(
    'ERR_SERVE_UNPROTECTED',
    `refusing to serve metrics and the dashboard on ${host} without authentication: it is not a loopback address`,
  );
}

/** A certificate chain and its private key (PEM), for HTTPS. */
export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Reads `--tls-cert` and `--tls-key` (both or neither) and checks they make a usable pair. Throws
 * ERR_SERVE_TLS when one is missing, unreadable, or not a matching PEM certificate and key; warns
 * when the key file is readable by other users.
 *
 * @example
 * const tls = await readTlsPair('/etc/rekey/cert.pem', '/etc/rekey/key.pem', log);
 */
export async function readTlsPair(
  certFile: string | undefined,
  keyFile: string | undefined,
  log?: Logger,
): Promise<TlsPair | undefined> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new RekeyError(
      'ERR_SERVE_TLS',
      `${certFile === undefined ? '--tls-key' : '--tls-cert'} was given without ${certFile === undefined ? '--tls-cert' : '--tls-key'}`,
    );
  }
  const read = async (file: string) => {
    try {
      return { data: await fs.readFile(file), mode: (await fs.stat(file)).mode };
    } catch (e) {
      throw new RekeyError(
        'ERR_SERVE_TLS',
        `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const [cert, key] = await Promise.all([read(certFile), read(keyFile)]);
  try {
    createSecureContext({ cert: cert.data, key: key.data });
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'invalid';
    throw new RekeyError(
      'ERR_SERVE_TLS',
      `${certFile} and ${keyFile} are not a PEM certificate and its private key (${code})`,
    );
  }
  if ((key.mode & 0o077) !== 0) log?.warn(`${keyFile} is readable by other users: chmod 600 it`);
  return { cert: cert.data, key: key.data };
}

/**
 * The headers of every response: nothing may run, frame the page or leave through a referrer; only
 * the server's own stylesheet and images (and data: images) load.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** What a route answers: a body (already free of any value) and its type. */
export interface RouteResponse {
  readonly status?: number;
  readonly contentType: string;
  readonly body: string;
}

/** A read-only route: called for GET and HEAD of its path, after authentication. */
export type Route = () => Promise<RouteResponse>;

/** The host name of a Host header (`127.0.0.1:9464` → `127.0.0.1`, `[::1]:9464` → `::1`). */
export function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim();
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (v6) return v6[1] ?? '';
  return h.replace(/:\d*$/, '');
}

/** Whether an Authorization header carries the token (constant time over SHA-256 digests). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = createHash('sha256')
    .update(m?.[1] ?? '')
    .digest();
  const want = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, want) && m !== null;
}

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
  /** Computes the exposition at each scrape. */
  readonly collect: () => Promise<{ body: string; contentType: string }>;
  readonly log: Logger;
  /** Other paths served (`/`, `/api/status`, …), by exact path; `/metrics` is always `collect`. */
  readonly routes?: Readonly<Record<string, Route>>;
  /** Serve HTTPS with this certificate and key. */
  readonly tls?: TlsPair;
}

export interface MetricsServer {
  /** The metrics URL (`http://127.0.0.1:9464/metrics`). */
  readonly url: string;
  /** The server's root URL (`http://127.0.0.1:9464/`), where the dashboard is. */
  readonly root: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts the server; resolves once it listens.
 *
 * @example
 * const server = await startMetricsServer({ host: '127.0.0.1', port: 9464, collect, log });
 * // curl http://127.0.0.1:9464/metrics
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    handle(req, res, options).catch((e) => {
      options.log.error(`serve: ${redactor.redact(safeMessage(e))}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener)
    : createServer(listener);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new RekeyError(
          'ERR_USAGE',
          `cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`,
          {
            hint: 'Pick a free port with --port, or stop what listens there.',
          },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const root = `${options.tls ? 'https' : 'http'}://${host}:${port}/`;
  return {
    url: `${root}metrics`,
    root,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: MetricsServerOptions,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (options.token === undefined && isLoopback(options.host) && !isLoopback(hostOf(req.headers.host))) {
    // DNS rebinding: a web page whose name now resolves to 127.0.0.1 would read this server as its
    // own origin. Without a token, only requests addressed to a loopback name are answered.
    res.writeHead(421, { 'content-type': 'text/plain' });
    res.end('rekey: this server answers only requests addressed to 127.0.0.1, ::1 or localhost\n');
    return;
  }
  if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="rekey"', 'content-type': 'text/plain' });
    res.end('unauthorized\n');
    return;
  }
  const route = path === undefined ? undefined : options.routes?.[path];
  if (route !== undefined && Object.hasOwn(options.routes ?? {}, path ?? '')) {
    let out: RouteResponse;
    try {
      out = await route();
    } catch (e) {
      const message = redactor.redact(safeMessage(e));
      options.log.error(`serve ${path}: ${message}`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`rekey: cannot read the state: ${message}\n`);
      return;
    }
    res.writeHead(out.status ?? 200, { 'content-type': out.contentType });
    res.end(req.method === 'HEAD' ? undefined : redactor.redact(out.body));
    return;
  }
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('rekey: metrics at /metrics\n');
    return;
  }
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  let out: { body: string; contentType: string };
  try {
    out = await options.collect();
  } catch (e) {
    const message = redactor.redact(safeMessage(e));
    options.log.error(`metrics: ${message}`);
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`rekey: cannot compute metrics: ${message}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': out.contentType });
  res.end(req.method === 'HEAD' ? undefined : redactor.redact(out.body));
}
