/**
 * Grafana stand-in: a small HTTP server answering the Grafana HTTP API routes rekey uses to rotate
 * the Grafana admin password, for tests and the demo (Grafana itself cannot run here). Written from
 * Grafana's documentation and source (read, not copied):
 *
 * Docs
 * - User HTTP API ("Actual User", "Change Password" and its curl example with `confirmNew`):
 *   https://grafana.com/docs/grafana/latest/developers/http_api/user/
 *   (source: grafana/grafana docs/sources/developers/http_api/user.md)
 * - Admin HTTP API (basic auth as a Grafana Admin): https://grafana.com/docs/grafana/v8.3/http_api/admin/
 * - Password policy (`[auth.basic] password_policy`: 4 characters by default; 12+, upper, lower,
 *   number, symbol when enabled):
 *   https://grafana.com/docs/grafana/latest/setup-grafana/configure-security/configure-authentication/grafana/
 * - conf/defaults.ini `[security]`: "default admin user, created on startup", "default admin
 *   password, can be changed before first start of grafana, or in profile settings"
 *
 * Source (github.com/grafana/grafana)
 * - pkg/api/user.go — `GetSignedInUser`, `ChangeUserPassword` (older versions: 401 "Invalid old
 *   password", `IsWeak`; current: `userService.Update` with `OldPassword`, errors via `ErrOrFallback`)
 * - pkg/services/user/userimpl/legacy_user.go — `Update`: old password compared first
 *   (`ErrPasswordMismatch`, 400 "Invalid old password"), then `Password.Validate`
 * - pkg/services/user/error.go, pkg/services/user/password.go — messages and `ValidatePassword`
 * - pkg/api/admin_users.go — `AdminUpdateUserPassword`: 500 "Failed to update user password" on any
 *   update error, login attempts `Reset`, `RevokeAllUserTokens`, "User password updated"
 * - pkg/api/login.go — `LoginPost` ("Logged in", 401 "Invalid username or password", also when blocked)
 * - pkg/services/authn/clients/basic.go, password.go, grafana.go — basic auth via Go's
 *   `Request.BasicAuth`, limiter checked before the password, attempts added on failure, blocked
 *   logins answered with the same public error as a wrong password (`password-auth.failed`, 401)
 * - pkg/services/authn/authnimpl/service.go — `auth.unauthorized` when no credentials
 * - pkg/middleware/auth.go — `notAuthorized`, `accessForbidden` ("Permission denied")
 * - pkg/services/loginattempt/loginattemptimpl/login_attempt.go, store.go — 5 attempts in 5 minutes
 * - pkg/api/response/response.go, pkg/apimachinery/errutil/errors.go — JSON error shapes
 * - pkg/util/encoding.go — `EncodePassword` (PBKDF2-SHA256, 10,000 iterations, 50 bytes)
 * - sessions, service accounts and their tokens: see access.ts (user and admin auth-token routes,
 *   admin logout, service-account API, Bearer authentication)
 */
import { createServer, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AppRequest, GrafanaApp, type StandInStats } from './app.js';
import { plainError, readBody, send } from './http.js';
import { DEFAULT_MAX_LOGIN_ATTEMPTS } from './limiter.js';
import { initialState, loadState, saveState } from './store.js';

export type { StandInStats } from './app.js';

/** How to start a stand-in. */
export interface GrafanaStandInOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** The "database" file; created on first start, reused afterwards. */
  dataFile: string;
  /** Login of the admin user created on first start (default `admin`, Grafana's `admin_user`). */
  adminUser?: string;
  /** Password of that user, applied ONLY on first start (default `admin`, Grafana's `admin_password`). */
  initialPassword?: string;
  /** `[auth.basic] password_policy = true` (default false). */
  strongPolicy?: boolean;
  /** 400 for current Grafana (default), 401 for older versions. */
  wrongOldPasswordStatus?: 400 | 401;
  /** `brute_force_login_protection_max_attempts` (default 5). */
  maxLoginAttempts?: number;
  /** Clock in epoch milliseconds (default Date.now), injectable for lockout tests. */
  now?: () => number;
  /** Where log lines go (default: nowhere). Lines never hold passwords, headers or bodies. */
  log?: (line: string) => void;
  /** Version reported by /api/health. */
  version?: string;
}

/** A running stand-in. */
export interface GrafanaStandIn {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Stops listening, drops open connections and waits for pending writes. */
  close(): Promise<void>;
  /** Test hook: the next request to `path` (exact path, query ignored) answers `status` with a generic error. */
  failNext(path: string, status: number): void;
  /** Password-authentication counters since start. */
  stats(): StandInStats;
}

/**
 * Starts a Grafana stand-in.
 *
 * @example
 * const grafana = await startGrafanaStandIn({ dataFile: '/tmp/g/grafana.json', initialPassword: 'first' });
 * await fetch(`${grafana.url}/api/user`, { headers: { authorization: `Basic ${btoa('admin:first')}` } }); // 200
 * await grafana.close();
 */
export async function startGrafanaStandIn(options: GrafanaStandInOptions): Promise<GrafanaStandIn> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const save = (state: Parameters<typeof saveState>[1]) => saveState(options.dataFile, state);

  let state = await loadState(options.dataFile);
  if (state === undefined) {
    // First start, like Grafana with an empty database: create the admin from the configuration.
    // Once the data file exists, `initialPassword` (GF_SECURITY_ADMIN_PASSWORD) is ignored, exactly
    // as Grafana ignores it after the first run: changing the variable later changes nothing, which
    // is the trap rekey exists to avoid (rotate through the API, then update the variable).
    const adminUser = options.adminUser ?? 'admin';
    state = await initialState({ adminUser, password: options.initialPassword ?? 'admin', now: now() });
    await save(state);
    log(`Created default admin user=${JSON.stringify(adminUser)}`);
  }

  const app = new GrafanaApp(state, {
    strongPolicy: options.strongPolicy ?? false,
    wrongOldPasswordStatus: options.wrongOldPasswordStatus ?? 400,
    maxLoginAttempts: options.maxLoginAttempts ?? DEFAULT_MAX_LOGIN_ATTEMPTS,
    version: options.version ?? '12.0.0-standin',
    now,
    log,
    save,
  });

  // One request at a time once its body is read: state changes and file writes never interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  };
  const injected = new Map<string, number[]>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = url.pathname;
    const failures = injected.get(path);
    const status = failures?.shift();
    if (failures?.length === 0) injected.delete(path);
    if (status !== undefined) {
      req.resume();
      send(res, plainError(status, STATUS_CODES[status] ?? 'Error', false));
      return;
    }
    void (async () => {
      const request: AppRequest = {
        method: req.method ?? 'GET',
        path,
        headers: { authorization: req.headers.authorization, cookie: req.headers.cookie },
        remoteAddress: req.socket.remoteAddress ?? '',
        body: await readBody(req),
        query: url.searchParams,
      };
      send(res, await serialize(() => app.handle(request)));
    })().catch((e: unknown) => {
      log(`Request failed path=${path} error=${JSON.stringify(e instanceof Error ? e.message : String(e))}`);
      if (!res.headersSent) send(res, plainError(500, 'Internal Server Error', true));
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await queue;
    },
    failNext: (failPath, failStatus) => {
      if (!Number.isInteger(failStatus) || failStatus < 100 || failStatus > 599) {
        throw new RangeError(`failNext: ${failStatus} is not an HTTP status`);
      }
      const list = injected.get(failPath) ?? [];
      list.push(failStatus);
      injected.set(failPath, list);
    },
    stats: () => ({ ...app.stats }),
  };
}
