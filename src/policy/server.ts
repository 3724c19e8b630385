/**
 * The HTTP server of `rekey serve`: `GET /metrics` in the Prometheus text format, computed at each
 * scrape. It binds to loopback by default; binding to any other address requires a bearer token read
 * from a file (never from argv, where `ps` shows it), compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
 * Refuses (ERR_SERVE_UNPROTECTED) to expose metrics beyond loopback without a token.
 *
 * @example
 * assertExposureAllowed('0.0.0.0', undefined); // throws
 */
export function assertExposureAllowed(host: string, tokenFile: string | undefined): void {
  if (isLoopback(host) || tokenFile !== undefined) return;
  throw new RekeyError(
    'ERR_SERVE_UNPROTECTED',
    `refusing to serve metrics on ${host} without authentication: it is not a loopback address`,
  );
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
}

export interface MetricsServer {
  readonly url: string;
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
  const server = createServer((req, res) => {
    handle(req, res, options).catch((e) => {
      options.log.error(`metrics: ${safeMessage(e)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
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
  return {
    url: `http://${host}:${port}/metrics`,
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
  if (options.token !== undefined && !bearerMatches(req.headers.authorization, options.token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="rekey"', 'content-type': 'text/plain' });
    res.end('unauthorized\n');
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
  res.writeHead(200, { 'content-type': out.contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : redactor.redact(out.body));
}
