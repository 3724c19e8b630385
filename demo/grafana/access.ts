/**
 * The Grafana stand-in's sessions and service accounts: what an attacker holding the admin password
 * can leave behind (a browser session, a service-account token), and the API that lists and revokes
 * them. A stand-in, small on purpose; each route follows the doc or source named on it (read, not
 * copied; grafana/grafana):
 *
 * - User HTTP API, "Auth tokens of the actual User" / "Revoke an auth token of the actual User"
 *   (docs/sources/developers/http_api/user.md; pkg/api/user_token.go `getUserAuthTokensInternal`,
 *   `revokeUserAuthTokenInternal`): `GET /api/user/auth-tokens`, `POST /api/user/revoke-auth-token`.
 * - Admin HTTP API, "Auth tokens for User" / "Logout User" (docs/sources/developers/http_api/admin.md;
 *   pkg/api/admin_users.go `AdminGetUserAuthTokens`, `AdminLogoutUser`: 400 "You cannot logout
 *   yourself"): server admin only, never a service-account token.
 * - Service account HTTP API (docs/sources/developers/http_api/serviceaccount.md;
 *   pkg/services/serviceaccounts/api/api.go, token.go): create, search, list/create/delete tokens;
 *   a deleted token's id answers 404 "Failed to delete service account token".
 * - Authentication: `Authorization: Bearer <token>` (docs/sources/developers/http_api/auth.md); an
 *   unknown, deleted or expired token is 401 `api-key.invalid` "Invalid API key"
 *   (pkg/services/authn/clients/api_key.go).
 *
 * A password change through `PUT /api/user/password` revokes NOTHING here, as in Grafana
 * (pkg/api/user.go `ChangeUserPassword` updates the password only; only the admin reset, the
 * email reset, disabling and deleting a user call `RevokeAllUserTokens`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { apiError, parseJsonObject, plainError, type Reply, stringField } from './http.js';
import { nextId, type SaToken, type ServiceAccount, type StandInState, type StoredUser } from './store.js';

/** Who a request authenticated as: a user (with the session it came through, if any) or a service account. */
export type Identity =
  | { kind: 'user'; user: StoredUser; sessionId?: number | undefined }
  | { kind: 'service-account'; account: ServiceAccount };

export const INVALID_API_KEY = apiError(401, 'api-key.invalid', 'Invalid API key');
const PERMISSION_DENIED = plainError(403, 'Permission denied', false);
const SA_NOT_FOUND = apiError(404, 'serviceaccounts.ErrNotFound', 'service account not found');

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The service account a Bearer token belongs to, or undefined (unknown, deleted, expired, disabled).
 *
 * @example
 * const account = bearerAccount(state, 'glsa_…', Date.now());
 */
export function bearerAccount(state: StandInState, token: string, now: number): ServiceAccount | undefined {
  const hash = sha256Hex(token);
  const row = state.saTokens.find((t) => t.keyHash === hash);
  if (row === undefined || (row.expires !== null && row.expires <= now)) return undefined;
  const account = state.serviceAccounts.find((a) => a.id === row.serviceAccountId);
  return account?.isDisabled === false ? account : undefined;
}

/** The sessions and service-account routes; `save` persists the state after a change. */
export class AccessApi {
  constructor(
    private readonly state: StandInState,
    private readonly now: () => number,
    private readonly save: () => Promise<void>,
    private readonly log: (line: string) => void,
  ) {}

  /** GET /api/user/auth-tokens and GET /api/admin/users/:id/auth-tokens: the user's sessions. */
  listSessions(userId: number, activeId: number | undefined): Reply {
    if (!this.state.users.some((u) => u.id === userId)) return plainError(404, 'User not found', true);
    const body = this.state.authTokens
      .filter((t) => t.userId === userId)
      .map((t) => ({
        id: t.id,
        isActive: t.id === activeId,
        clientIp: '127.0.0.1',
        browser: 'Other',
        browserVersion: '',
        os: 'Other',
        osVersion: '',
        device: 'Other',
        createdAt: iso(t.created),
        seenAt: iso(t.created),
      }));
    return { status: 200, body };
  }

  /** POST /api/user/revoke-auth-token `{authTokenId}`: one session of the signed-in user. */
  async revokeSession(userId: number, activeId: number | undefined, raw: Buffer | undefined): Promise<Reply> {
    const form = parseJsonObject(raw);
    const id = form?.authTokenId;
    if (typeof id !== 'number' || !Number.isInteger(id)) return plainError(400, 'bad request data', true);
    const token = this.state.authTokens.find((t) => t.userId === userId && t.id === id);
    if (token === undefined) return plainError(404, 'User auth token not found', true);
    if (token.id === activeId) return plainError(400, 'Cannot revoke active user auth token', false);
    this.state.authTokens = this.state.authTokens.filter((t) => t !== token);
    await this.save();
    this.log(`User auth token revoked userId=${userId} tokenId=${id}`);
    return { status: 200, body: { message: 'User auth token revoked' } };
  }

  /** POST /api/admin/users/:id/logout: every session of another user. */
  async logoutUser(admin: StoredUser, userId: number): Promise<Reply> {
    if (admin.id === userId) return plainError(400, 'You cannot logout yourself', false);
    if (!this.state.users.some((u) => u.id === userId)) return plainError(404, 'User not found', true);
    this.state.authTokens = this.state.authTokens.filter((t) => t.userId !== userId);
    await this.save();
    this.log(`User logged out userId=${userId}`);
    return { status: 200, body: { message: 'User logged out' } };
  }

  /** POST /api/serviceaccounts `{name, role, isDisabled}` → 201 and the account. */
  async createAccount(raw: Buffer | undefined): Promise<Reply> {
    const form = parseJsonObject(raw);
    const name = form === undefined ? undefined : stringField(form, 'name');
    const role = form === undefined ? undefined : stringField(form, 'role');
    if (name === undefined || name === '' || role === undefined)
      return plainError(400, 'Bad request data', true);
    const roleOf = role === '' ? 'Viewer' : role;
    if (roleOf !== 'None' && roleOf !== 'Viewer' && roleOf !== 'Editor' && roleOf !== 'Admin') {
      return plainError(400, 'Invalid role specified', false);
    }
    const login = `sa-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
    if (this.state.serviceAccounts.some((a) => a.login === login)) {
      return apiError(409, 'serviceaccounts.ErrAlreadyExists', 'service account already exists');
    }
    const account: ServiceAccount = {
      id: nextId(this.state, 'user'),
      name,
      login,
      orgId: 1,
      role: roleOf,
      isDisabled: form?.isDisabled === true,
      created: this.now(),
    };
    this.state.serviceAccounts.push(account);
    await this.save();
    this.log(`Service account created id=${account.id}`);
    return { status: 201, body: this.accountDto(account) };
  }

  /** GET /api/serviceaccounts/search?perpage&page&query: paged, filtered by name. */
  searchAccounts(query: URLSearchParams): Reply {
    const perPage = Math.max(1, Number(query.get('perpage') ?? '1000') || 1000);
    const page = Math.max(1, Number(query.get('page') ?? '1') || 1);
    const q = (query.get('query') ?? '').toLowerCase();
    const all = this.state.serviceAccounts.filter((a) => a.name.toLowerCase().includes(q));
    return {
      status: 200,
      body: {
        totalCount: all.length,
        serviceAccounts: all.slice((page - 1) * perPage, page * perPage).map((a) => this.accountDto(a)),
        page,
        perPage,
      },
    };
  }

  /** GET /api/serviceaccounts/:id/tokens: names, ids and times, never a key. */
  listTokens(accountId: number): Reply {
    if (!this.state.serviceAccounts.some((a) => a.id === accountId)) return SA_NOT_FOUND;
    const now = this.now();
    const body = this.state.saTokens
      .filter((t) => t.serviceAccountId === accountId)
      .map((t) => ({
        id: t.id,
        name: t.name,
        created: iso(t.created),
        lastUsedAt: null,
        expiration: t.expires === null ? null : iso(t.expires),
        secondsUntilExpiration: t.expires === null ? 0 : Math.max(0, (t.expires - now) / 1000),
        hasExpired: t.expires !== null && t.expires <= now,
        isRevoked: false,
      }));
    return { status: 200, body };
  }

  /** POST /api/serviceaccounts/:id/tokens `{name, secondsToLive}` → `{id, name, key}` (the key, once). */
  async createToken(accountId: number, raw: Buffer | undefined): Promise<Reply> {
    if (!this.state.serviceAccounts.some((a) => a.id === accountId)) return SA_NOT_FOUND;
    const form = parseJsonObject(raw);
    const name = form === undefined ? undefined : stringField(form, 'name');
    const ttl = form?.secondsToLive ?? 0;
    if (name === undefined || name === '' || typeof ttl !== 'number' || ttl < 0) {
      return plainError(400, 'Bad request data', true);
    }
    if (this.state.saTokens.some((t) => t.serviceAccountId === accountId && t.name === name)) {
      return apiError(
        409,
        'serviceaccounts.ErrTokenAlreadyExists',
        'service account token with given name already exists in the organization',
      );
    }
    // glsa_<32 random>_<crc-like suffix>: the shape of Grafana's service-account keys.
    const secret = randomBytes(24).toString('base64url').slice(0, 32);
    const key = `glsa_${secret}_${sha256Hex(secret).slice(0, 8)}`;
    const now = this.now();
    const row: SaToken = {
      id: nextId(this.state, 'apiKey'),
      serviceAccountId: accountId,
      name,
      keyHash: sha256Hex(key),
      created: now,
      expires: ttl === 0 ? null : now + ttl * 1000,
    };
    this.state.saTokens.push(row);
    await this.save();
    this.log(`Service account token created id=${row.id} serviceAccountId=${accountId}`);
    return { status: 200, body: { id: row.id, name, key } };
  }

  /** DELETE /api/serviceaccounts/:id/tokens/:tokenId. */
  async deleteToken(accountId: number, tokenId: number): Promise<Reply> {
    if (!this.state.serviceAccounts.some((a) => a.id === accountId)) return SA_NOT_FOUND;
    const row = this.state.saTokens.find((t) => t.serviceAccountId === accountId && t.id === tokenId);
    if (row === undefined) return plainError(404, 'Failed to delete service account token', true);
    this.state.saTokens = this.state.saTokens.filter((t) => t !== row);
    await this.save();
    this.log(`Service account token deleted id=${tokenId} serviceAccountId=${accountId}`);
    return { status: 200, body: { message: 'Service account token deleted' } };
  }

  private accountDto(a: ServiceAccount) {
    return {
      id: a.id,
      name: a.name,
      login: a.login,
      orgId: a.orgId,
      isDisabled: a.isDisabled,
      role: a.role,
      tokens: this.state.saTokens.filter((t) => t.serviceAccountId === a.id).length,
      avatarUrl: `/avatar/${createHash('md5').update(a.login).digest('hex')}`,
    };
  }
}

/** Org admins (the server admin, or a service account with the Admin role) manage service accounts. */
export function mayManageAccounts(who: Identity): boolean {
  return who.kind === 'user' ? who.user.isGrafanaAdmin : who.account.role === 'Admin';
}

export { PERMISSION_DENIED };
