/**
 * One app instance: the HTTP server (node:http), its connections and a graceful close.
 *
 * Closing drains instead of cutting: the listening socket is closed at once (no new connections; in a
 * cluster worker the primary stops routing to it), every request still arriving on an open
 * connection is answered with `Connection: close`, and idle keep-alive connections are left to end by
 * their own idle timeout (5 s advertised, 6 s in fact: Node adds 1 s; clients close theirs first:
 * undici/fetch and `http.globalAgent` honour the `Keep-Alive: timeout=5` hint and close after 4 s).
 * `http.Server#close` would instead destroy idle connections at once, racing a client that is sending
 * its next request on one: that request would fail. Whatever is still open at the deadline is
 * destroyed.
 *
 * A client that ignores the hint still races the idle close: Node 20's `new http.Agent({ keepAlive:
 * true })` WITHOUT a `timeout` option never times out an idle socket (the hint only lowers a timeout
 * it has), so a request it sends on a connection as the server's 6 s idle timeout closes it fails with
 * ECONNRESET (RFC 9112 §9.3.1 leaves the retry to the client). No server-side close of an idle
 * HTTP/1.1 connection avoids that; give such an Agent `timeout: 5000` (as `http.globalAgent` has).
 * test/demo-app/cluster-stress.test.ts measures the drain with clients that honour the hint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiKeys } from './apikeys.js';
import { type Backends, openBackends } from './backends.js';
import type { AppConfig } from './config.js';
import { type Reply, send } from './http.js';
import { type AppLog, describeError } from './log.js';
import { type RouteDeps, route } from './routes.js';
import { jwtKeys, keyId } from './tokens.js';

/** Default deadline for in-flight requests at shutdown. */
export const DRAIN_TIMEOUT_MS = 10_000;
/** Idle time after which the server ends a keep-alive connection (Node's default, made explicit). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Consecutive health checks refused by a backend before {@link App.untilHealthy} gives up. */
export const REFUSALS_BEFORE_GIVING_UP = 3;

/** A backend keeps refusing the credentials of the env file. The message may quote the server. */
export class CredentialsRefused extends Error {
  override name = 'CredentialsRefused';
}

export interface App {
  readonly server: Server;
  readonly backends: Backends;
  /** Requests being answered right now. */
  inFlight(): number;
  /**
   * Resolves once the health check passes (polled with backoff); false if `stopped()` turned true
   * first; throws {@link CredentialsRefused} when a backend refused the credentials on 3 checks in a
   * row (waiting would not help). Listen only after this: a process with wrong credentials then never
   * takes traffic.
   */
  untilHealthy(stopped?: () => boolean): Promise<boolean>;
  /** Starts listening on the configured host and port (port 0: any free port). */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Stops accepting, finishes what is in flight (until `deadlineMs`), closes the pools. Idempotent. */
  close(deadlineMs?: number): Promise<{ forced: boolean }>;
}

/**
 * Creates an app instance (connections opened, not yet listening).
 *
 * @example
 * const app = createApp(await loadConfig('.env.production'), createLog('app'));
 * const { url } = await app.listen();
 * // ...
 * await app.close();
 */
export function createApp(config: AppConfig, log: AppLog): App {
  log.protect(config);
  const backends = openBackends(config, log);
  const deps: RouteDeps = {
    backends,
    jwt: jwtKeys(config.jwt.current, config.jwt.previous),
    apiKeys: apiKeys(config.apiKey.current, config.apiKey.previous),
    sessionTtl: config.sessionTtl,
  };
  let draining = false;
  let active = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    active++;
    res.once('close', () => active--);
    const reply = (answer: Reply) => {
      if (res.headersSent || res.destroyed) return;
      // While draining, the client must not reuse this connection: it would be closed under it.
      if (draining) res.setHeader('Connection', 'close');
      send(res, answer);
    };
    route(deps, req).then(reply, (err: unknown) => {
      log.error(`${req.method} ${safePath(req)}: ${describeError(err)}`);
      reply({ status: 503, body: { error: 'unavailable' } });
    });
  };
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, onRequest);
  server.on('clientError', (_err, socket) => socket.destroy());

  let closing: Promise<{ forced: boolean }> | undefined;
  const close = async (deadlineMs: number): Promise<{ forced: boolean }> => {
    draining = true;
    let forced = false;
    if (server.listening) {
      const closed = new Promise<void>((resolve) => {
        // net.Server#close: stop accepting, keep open connections (see the file comment).
        NetServer.prototype.close.call(server, () => resolve());
      });
      const timer = setTimeout(() => {
        forced = true;
        log.error(`shutdown: ${active} request(s) still in flight after ${deadlineMs} ms; closing them`);
        server.closeAllConnections();
      }, deadlineMs);
      await closed;
      clearTimeout(timer);
      server.close(() => {}); // already closed: only stops the http server's connection checks
    }
    await backends.close();
    return { forced };
  };

  return {
    server,
    backends,
    inFlight: () => active,
    async untilHealthy(stopped = () => false) {
      await backends.firstAttempt();
      let refusals = 0;
      for (let attempt = 0; !stopped(); attempt++) {
        const health = await backends.health();
        if (health.ok) return true;
        const rejected = Object.entries(health.rejected);
        refusals = rejected.length === 0 ? 0 : refusals + 1;
        if (refusals >= REFUSALS_BEFORE_GIVING_UP) {
          throw new CredentialsRefused(
            rejected.map(([name, why]) => `${name} refused the credentials: ${why}`).join('; '),
          );
        }
        if (attempt === 0) log.info('waiting for PostgreSQL and Redis to accept our credentials');
        await sleep(Math.min(250 * 2 ** attempt, 2000));
      }
      return false;
    },
    async listen() {
      const { host, port } = config.http;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      const kids = [keyId(config.jwt.current), config.jwt.previous === '' ? '' : keyId(config.jwt.previous)];
      log.info(
        `listening on http://${host}:${bound} (postgres ${config.postgres.user}@${config.postgres.host}:` +
          `${config.postgres.port}/${config.postgres.database}, redis ${config.redis.host}:${config.redis.port}, ` +
          `jwt kid ${kids[0]}${kids[1] === '' ? '' : ` (previous ${kids[1]})`}, ` +
          `api keys: ${deps.apiKeys.digests.length})`,
      );
      return { host, port: bound, url: `http://${host}:${bound}` };
    },
    close(deadlineMs = DRAIN_TIMEOUT_MS) {
      closing ??= close(deadlineMs);
      return closing;
    },
  };
}

/** The request path without its query string (which a client might fill with anything). */
function safePath(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}
