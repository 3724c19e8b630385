/**
 * What the Grafana stand-in answers: the handful of Grafana HTTP API routes rekey uses, with
 * Grafana's status codes and JSON bodies (sources in standin.ts). Transport-free: takes a parsed
 * request and returns a {@link Reply}; the caller serialises requests, so state changes never race.
 *
 * Logs (through `log`) carry usernames and outcomes, never a password, a header or a body.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  AccessApi,
  bearerAccount,
  type Identity,
  INVALID_API_KEY,
  mayManageAccounts,
  PERMISSION_DENIED,
} from './access.js';
import { hashPassword, verifyPassword } from './hash.js';
import {
  apiError,
  type BasicCredentials,
  cookieValue,
  parseBasicAuth,
  parseJsonObject,
  plainError,
  type Reply,
  stringField,
} from './http.js';
import { isBlocked, recordFailure, resetAttempts } from './limiter.js';
import { checkNewPassword } from './policy.js';
import { nextId, type StandInState, type StoredUser } from './store.js';

export const SESSION_COOKIE = 'grafana_session';
const SESSION_MAX_AGE_SECONDS = 30 * 24 * 3600; // login_maximum_lifetime_duration = 30d

/** Settings of one stand-in instance (see `GrafanaStandInOptions` in standin.ts). */
export interface AppConfig {
  strongPolicy: boolean;
  wrongOldPasswordStatus: 400 | 401;
  maxLoginAttempts: number;
  version: string;
  now: () => number;
  log: (line: string) => void;
  save: (state: StandInState) => Promise<void>;
}

/** A request as the app sees it. */
export interface AppRequest {
  method: string;
  path: string;
  headers: { authorization?: string | undefined; cookie?: string | undefined };
  remoteAddress: string;
  body: Buffer | undefined;
  /** The query string's parameters (search paging). */
  query?: URLSearchParams;
}

/** Counters for tests: password authentications that succeeded, failed, and were refused unchecked. */
export interface StandInStats {
  logins: number;
  /** Every refused password authentication, blocked ones included. */
  failedLogins: number;
  /** Refused by the brute-force limiter before the password was checked. */
  blockedLogins: number;
}

type AuthResult = { user: StoredUser; reply?: undefined } | { user?: undefined; reply: Reply };
type IdentityResult = { who: Identity; reply?: undefined } | { who?: undefined; reply: Reply };

const LOGIN_FAILED = apiError(401, 'password-auth.failed', 'Invalid username or password');
const UNAUTHORIZED = apiError(401, 'auth.unauthorized', 'Unauthorized');
const NOT_FOUND: Reply = { status: 404, body: { message: 'Not found' } };
/** What a service-account token gets from an endpoint for users (pkg/api/user.go `getUserID`). */
const USERS_ONLY = plainError(403, 'Endpoint only available for users', false);

/** ISO time without milliseconds, as Grafana's JSON dates look. */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The Grafana behaviour behind the stand-in's HTTP server. */
export class GrafanaApp {
  readonly stats: StandInStats = { logins: 0, failedLogins: 0, blockedLogins: 0 };
  private readonly access: AccessApi;

  constructor(
    private readonly state: StandInState,
    private readonly config: AppConfig,
  ) {
    this.access = new AccessApi(state, config.now, () => config.save(state), config.log);
  }

  /**
   * Answers one request.
   *
   * @example
   * const reply = await app.handle({ method: 'GET', path: '/api/health', headers: {}, remoteAddress: '127.0.0.1', body: undefined });
   */
  async handle(req: AppRequest): Promise<Reply> {
    const { method, path } = req;
    if (path === '/api/health' && (method === 'GET' || method === 'HEAD')) return this.health();
    if (path === '/login' && method === 'POST') return this.formLogin(req);
    if (path === '/api/user' && method === 'GET')
      return this.withUser(req, async (user) => this.profile(user));
    if (path === '/api/user/password' && method === 'PUT') {
      return this.withUser(req, (user) => this.changePassword(user, req.body));
    }
    const admin = /^\/api\/admin\/users\/([^/]+)\/password$/.exec(path);
    if (admin !== null && method === 'PUT') {
      return this.withUser(req, (user) => this.adminSetPassword(user, admin[1] ?? '', req.body));
    }
    return this.handleAccess(req);
  }

  /** Sessions, service accounts and their tokens (access.ts). */
  private async handleAccess(req: AppRequest): Promise<Reply> {
    const { method, path } = req;
    if (path === '/api/org' && method === 'GET') {
      return this.withIdentity(req, async () => ({ status: 200, body: { id: 1, name: 'Main Org.' } }));
    }
    if (path === '/api/user/auth-tokens' && method === 'GET') {
      return this.withIdentity(req, async (who) =>
        who.kind === 'user' ? this.access.listSessions(who.user.id, who.sessionId) : USERS_ONLY,
      );
    }
    if (path === '/api/user/revoke-auth-token' && method === 'POST') {
      return this.withIdentity(req, (who) =>
        who.kind === 'user'
          ? this.access.revokeSession(who.user.id, who.sessionId, req.body)
          : Promise.resolve(USERS_ONLY),
      );
    }
    const adminUser = /^\/api\/admin\/users\/([^/]+)\/(auth-tokens|logout)$/.exec(path);
    if (adminUser !== null) {
      const [, idText = '', what] = adminUser;
      if ((what === 'auth-tokens' && method !== 'GET') || (what === 'logout' && method !== 'POST'))
        return NOT_FOUND;
      return this.withIdentity(req, async (who) => {
        // The admin API takes no service-account token: accounts cannot be server admins.
        if (who.kind !== 'user' || !who.user.isGrafanaAdmin) return PERMISSION_DENIED;
        if (!/^-?\d+$/.test(idText)) return plainError(400, 'id is invalid', true);
        return what === 'logout'
          ? this.access.logoutUser(who.user, Number(idText))
          : this.access.listSessions(Number(idText), who.sessionId);
      });
    }
    if (!path.startsWith('/api/serviceaccounts')) return NOT_FOUND;
    return this.withIdentity(req, async (who) => {
      if (!mayManageAccounts(who)) return PERMISSION_DENIED;
      if (path === '/api/serviceaccounts' && method === 'POST') return this.access.createAccount(req.body);
      if (path === '/api/serviceaccounts/search' && method === 'GET') {
        return this.access.searchAccounts(req.query ?? new URLSearchParams());
      }
      const tokens = /^\/api\/serviceaccounts\/([^/]+)\/tokens(?:\/([^/]+))?$/.exec(path);
      if (tokens === null) return NOT_FOUND;
      const [, saText = '', tokenText] = tokens;
      if (!/^\d+$/.test(saText)) return plainError(400, 'Service Account ID is invalid', true);
      const sa = Number(saText);
      if (tokenText === undefined) {
        if (method === 'GET') return this.access.listTokens(sa);
        if (method === 'POST') return this.access.createToken(sa, req.body);
        return NOT_FOUND;
      }
      if (method !== 'DELETE') return NOT_FOUND;
      if (!/^\d+$/.test(tokenText)) return plainError(400, 'Token ID is invalid', true);
      return this.access.deleteToken(sa, Number(tokenText));
    });
  }

  private async withIdentity(req: AppRequest, then: (who: Identity) => Promise<Reply>): Promise<Reply> {
    const auth = await this.identify(req);
    return auth.who === undefined ? auth.reply : then(auth.who);
  }

  /** A Bearer token (service account), else basic auth or the session cookie (a user). */
  private async identify(req: AppRequest): Promise<IdentityResult> {
    const header = req.headers.authorization;
    if (header !== undefined && /^bearer /i.test(header)) {
      const account = bearerAccount(this.state, header.slice(7).trim(), this.config.now());
      return account === undefined
        ? { reply: INVALID_API_KEY }
        : { who: { kind: 'service-account', account } };
    }
    const auth = await this.authenticate(req);
    if (auth.user === undefined) return { reply: auth.reply };
    return { who: { kind: 'user', user: auth.user, sessionId: this.sessionOf(req)?.id } };
  }

  /** The session a request's cookie names (when it authenticated through it, not basic auth). */
  private sessionOf(req: AppRequest) {
    if (parseBasicAuth(req.headers.authorization) !== undefined) return undefined;
    const token = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (token === undefined || token === '') return undefined;
    const hash = sha256Hex(token);
    return this.state.authTokens.find((t) => t.tokenHash === hash);
  }

  private health(): Reply {
    return { status: 200, body: { commit: 'grafana-standin', database: 'ok', version: this.config.version } };
  }

  private async withUser(req: AppRequest, then: (user: StoredUser) => Promise<Reply>): Promise<Reply> {
    const auth = await this.identify(req);
    if (auth.who === undefined) return auth.reply;
    return auth.who.kind === 'user' ? then(auth.who.user) : USERS_ONLY;
  }

  /** Basic auth when the header parses, else the session cookie, else 401 (anonymous access is off). */
  private async authenticate(req: AppRequest): Promise<AuthResult> {
    const basic: BasicCredentials | undefined = parseBasicAuth(req.headers.authorization);
    if (basic !== undefined)
      return this.passwordLogin(basic.username, basic.password, req.remoteAddress, 'basic');
    const token = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (token !== undefined && token !== '') {
      const hash = sha256Hex(token);
      const session = this.state.authTokens.find((t) => t.tokenHash === hash);
      const user = session === undefined ? undefined : this.state.users.find((u) => u.id === session.userId);
      if (user !== undefined) return { user };
    }
    return { reply: UNAUTHORIZED };
  }

  /** Grafana's password client: limiter first, then the password; every wrong password is recorded. */
  private async passwordLogin(
    username: string,
    password: string,
    ip: string,
    client: string,
  ): Promise<AuthResult> {
    const now = this.config.now();
    const who = JSON.stringify(username);
    if (isBlocked(this.state.loginAttempts, username, now, this.config.maxLoginAttempts)) {
      this.stats.failedLogins += 1;
      this.stats.blockedLogins += 1;
      this.config.log(
        `Failed to authenticate request client=${client} username=${who} error="too many consecutive incorrect login attempts for user - login for user temporarily blocked"`,
      );
      return { reply: LOGIN_FAILED };
    }
    if (password === '') {
      this.stats.failedLogins += 1;
      this.config.log(
        `Failed to authenticate request client=${client} username=${who} error="no password provided"`,
      );
      return { reply: LOGIN_FAILED };
    }
    const key = username.toLowerCase();
    const user = this.state.users.find((u) => u.login.toLowerCase() === key || u.email.toLowerCase() === key);
    if (
      user !== undefined &&
      !user.isDisabled &&
      (await verifyPassword(password, user.salt, user.passwordHash))
    ) {
      this.stats.logins += 1;
      return { user };
    }
    this.state.loginAttempts = recordFailure(this.state.loginAttempts, username, ip, now);
    await this.config.save(this.state);
    this.stats.failedLogins += 1;
    this.config.log(
      `Failed to authenticate request client=${client} username=${who} error="invalid username or password"`,
    );
    return { reply: LOGIN_FAILED };
  }

  /** POST /login: JSON `{user, password}` → session cookie. */
  private async formLogin(req: AppRequest): Promise<Reply> {
    const form = parseJsonObject(req.body);
    const username = form === undefined ? undefined : stringField(form, 'user');
    const password = form === undefined ? undefined : stringField(form, 'password');
    if (username === undefined || password === undefined)
      return apiError(400, 'form-auth.invalid', 'bad login data');
    const auth = await this.passwordLogin(username, password, req.remoteAddress, 'form');
    if (auth.user === undefined) return auth.reply;
    const token = randomBytes(32).toString('hex');
    this.state.authTokens.push({
      id: nextId(this.state, 'authToken'),
      userId: auth.user.id,
      tokenHash: sha256Hex(token),
      created: this.config.now(),
    });
    await this.config.save(this.state);
    return {
      status: 200,
      body: { message: 'Logged in', redirectUrl: '/' },
      headers: {
        'Set-Cookie': `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${SESSION_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax`,
      },
    };
  }

  /** GET /api/user: the signed-in user's profile (`user.UserProfileDTO`). */
  private profile(user: StoredUser): Reply {
    const email = user.email.trim().toLowerCase();
    return {
      status: 200,
      body: {
        id: user.id,
        uid: user.uid,
        email: user.email,
        name: user.name,
        login: user.login,
        theme: user.theme,
        orgId: user.orgId,
        isGrafanaAdmin: user.isGrafanaAdmin,
        isDisabled: user.isDisabled,
        isExternal: false,
        isExternallySynced: false,
        isGrafanaAdminExternallySynced: false,
        authLabels: [],
        updatedAt: isoSeconds(user.updated),
        createdAt: isoSeconds(user.created),
        avatarUrl: `/avatar/${createHash('md5').update(email).digest('hex')}`,
      },
    };
  }

  /**
   * PUT /api/user/password: old password first, then the policy. `confirmNew` is not checked by the
   * API (only Grafana's UI compares it). The salt is kept, as Grafana keeps it.
   */
  private async changePassword(user: StoredUser, body: Buffer | undefined): Promise<Reply> {
    const cmd = parseJsonObject(body);
    const oldPassword = cmd === undefined ? undefined : stringField(cmd, 'oldPassword');
    const newPassword = cmd === undefined ? undefined : stringField(cmd, 'newPassword');
    if (oldPassword === undefined || newPassword === undefined)
      return plainError(400, 'bad request data', true);
    if (!(await verifyPassword(oldPassword, user.salt, user.passwordHash))) {
      // Grafana ≤ 10 answered 401 through response.Error; current Grafana 400 through errutil.
      return this.config.wrongOldPasswordStatus === 401
        ? plainError(401, 'Invalid old password', false)
        : apiError(400, 'user.password-missmatch', 'Invalid old password');
    }
    const problem = checkNewPassword(newPassword, this.config.strongPolicy);
    if (problem === 'too-short')
      return apiError(400, 'password.password-policy-too-short', 'New password is too short');
    if (problem === 'policy') {
      return apiError(
        400,
        'password.password-policy-infringe',
        "New password doesn't comply with the password policy",
      );
    }
    user.passwordHash = await hashPassword(newPassword, user.salt);
    user.updated = this.config.now();
    await this.config.save(this.state);
    this.config.log(`User password changed userId=${user.id}`);
    return { status: 200, body: { message: 'User password changed' } };
  }

  /**
   * PUT /api/admin/users/:id/password (server admin): any failure of the update, a policy violation
   * included, is a generic 500; on success the user's login attempts are reset and every session of
   * that user is revoked.
   */
  private async adminSetPassword(
    admin: StoredUser,
    idText: string,
    body: Buffer | undefined,
  ): Promise<Reply> {
    if (!admin.isGrafanaAdmin) return plainError(403, 'Permission denied', false);
    const form = parseJsonObject(body);
    const password = form === undefined ? undefined : stringField(form, 'password');
    if (password === undefined) return plainError(400, 'bad request data', true);
    if (!/^-?\d+$/.test(idText)) return plainError(400, 'id is invalid', true);
    const target = this.state.users.find((u) => u.id === Number(idText));
    if (target === undefined || checkNewPassword(password, this.config.strongPolicy) !== undefined) {
      return plainError(500, 'Failed to update user password', true);
    }
    target.passwordHash = await hashPassword(password, target.salt);
    target.updated = this.config.now();
    this.state.loginAttempts = resetAttempts(this.state.loginAttempts, target.login);
    this.state.authTokens = this.state.authTokens.filter((t) => t.userId !== target.id);
    await this.config.save(this.state);
    this.config.log(`User password updated by server admin userId=${target.id}; sessions revoked`);
    return { status: 200, body: { message: 'User password updated' } };
  }
}
