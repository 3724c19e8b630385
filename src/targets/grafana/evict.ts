/**
 * Issue 12, Grafana: what an attacker holding the old password can keep once it is changed. Grafana's
 * own `PUT /api/user/password` revokes nothing (pkg/api/user.go `ChangeUserPassword`), so:
 * - sessions: every browser session of the user is revoked on compromise, through the user's own
 *   `GET /api/user/auth-tokens` + `POST /api/user/revoke-auth-token` (Grafana refuses
 *   `POST /api/admin/users/:id/logout` on oneself: 400 "You cannot logout yourself", and rekey
 *   rotates the user it authenticates as). A 404 on revoke is a session already gone (a re-run).
 * - tokens: at every finish the service-account tokens (ids, names, creation times; never a value)
 *   are listed into the state directory (`grafana-tokens-<KEY>.json`, 0600). A compromise rotation
 *   reports the tokens that list did not have, and deletes them when `deleteTokensOnCompromise`
 *   (a 404 on delete is a token already gone). Reported tokens stay marked as such in the list, so a
 *   later rotation does not take them for known ones.
 * Never throws: what cannot be done or checked is a finding that says why. Requests authenticate
 * with the password Grafana has just accepted (no failed login is ever spent here).
 */
import path from 'node:path';
import { readIfExists, writeFileAtomic } from '../../lib/fsx.js';
import { safeMessage } from '../../lib/redact.js';
import type { EvictionFinding, TargetContext } from '../types.js';
import type { GrafanaEndpoint } from './endpoint.js';
import { type Answer, type Call, send } from './http.js';

/** One service-account token as the list keeps it: no value, no hash. */
export interface TokenRow {
  readonly id: number;
  readonly serviceAccountId: number;
  readonly serviceAccount: string;
  readonly name: string;
  readonly created: string;
}

interface TokenList {
  readonly tokens: readonly TokenRow[];
  /** Ids a compromise rotation reported and left in place: never counted as known. */
  readonly reported: readonly number[];
}

export interface EvictOptions {
  readonly ep: GrafanaEndpoint;
  readonly timeoutMs: number;
  /** The password Grafana accepts now (the new one at finish). */
  readonly password: string;
  /** The list's file, or undefined when no state directory is known (then nothing is kept). */
  readonly file: string | undefined;
  readonly deleteTokens: boolean;
}

/** The service label of the eviction report. */
export const serviceOf = (ep: GrafanaEndpoint) => `Grafana ${ep.display} (${ep.key})`;

/** The list's file name in the state directory. */
export const tokenListFile = (stateDir: string, key: string) =>
  path.join(stateDir, `grafana-tokens-${key}.json`);

class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** One request that must answer one of `ok`; the answer, or ApiError saying what Grafana said. */
async function call(
  ctx: TargetContext,
  o: EvictOptions,
  c: Omit<Call, 'password'>,
  ok: number[],
): Promise<Answer> {
  const a = await send(o.ep, { ...c, password: o.password }, { timeoutMs: o.timeoutMs, signal: ctx.signal });
  if (!ok.includes(a.status)) {
    throw new ApiError(`${a.what} answered ${a.status}${a.message ? ` (${a.message})` : ''}`, a.status);
  }
  return a;
}

const reason = (err: unknown) => (err instanceof ApiError ? err.message : safeMessage(err));

/** The user's sessions: id and creation time. */
async function listSessions(
  ctx: TargetContext,
  o: EvictOptions,
): Promise<{ id: number; createdAt: string }[]> {
  const a = await call(ctx, o, { method: 'GET', path: 'api/user/auth-tokens' }, [200]);
  if (!Array.isArray(a.data)) throw new ApiError('GET /api/user/auth-tokens: not a list');
  return a.data
    .map((s) => s as { id?: unknown; createdAt?: unknown })
    .filter((s): s is { id: number; createdAt: string } => typeof s.id === 'number')
    .map((s) => ({ id: s.id, createdAt: String(s.createdAt ?? '') }));
}

/** Every service-account token of the org, paged through the search. */
async function listTokens(ctx: TargetContext, o: EvictOptions): Promise<TokenRow[]> {
  const accounts: { id: number; name: string }[] = [];
  for (let page = 1; ; page += 1) {
    const a = await call(
      ctx,
      o,
      { method: 'GET', path: `api/serviceaccounts/search?perpage=1000&page=${page}` },
      [200],
    );
    const body = a.data as { totalCount?: unknown; serviceAccounts?: unknown } | undefined;
    const list = Array.isArray(body?.serviceAccounts) ? body.serviceAccounts : [];
    for (const sa of list as { id?: unknown; name?: unknown }[]) {
      if (typeof sa.id === 'number') accounts.push({ id: sa.id, name: String(sa.name ?? sa.id) });
    }
    if (list.length < 1000 || accounts.length >= Number(body?.totalCount ?? 0)) break;
  }
  const rows: TokenRow[] = [];
  for (const sa of accounts) {
    const a = await call(ctx, o, { method: 'GET', path: `api/serviceaccounts/${sa.id}/tokens` }, [200]);
    for (const t of (Array.isArray(a.data) ? a.data : []) as {
      id?: unknown;
      name?: unknown;
      created?: unknown;
    }[]) {
      if (typeof t.id !== 'number') continue;
      rows.push({
        id: t.id,
        serviceAccountId: sa.id,
        serviceAccount: sa.name,
        name: String(t.name ?? t.id),
        created: String(t.created ?? ''),
      });
    }
  }
  return rows;
}

/** The list of the previous rotation; undefined when there is none, a string saying why when unreadable. */
async function readList(file: string | undefined): Promise<TokenList | string | undefined> {
  if (!file) return undefined;
  try {
    const text = await readIfExists(file);
    if (text === undefined) return undefined;
    const doc = JSON.parse(text) as { tokens?: unknown; reported?: unknown };
    if (!Array.isArray(doc.tokens)) return `${path.basename(file)} has no token list`;
    return {
      tokens: (doc.tokens as TokenRow[]).filter((t) => typeof t?.id === 'number'),
      reported: Array.isArray(doc.reported)
        ? doc.reported.filter((n): n is number => typeof n === 'number')
        : [],
    };
  } catch (err) {
    return `${path.basename(file)} is unreadable (${safeMessage(err)})`;
  }
}

async function writeList(ctx: TargetContext, o: EvictOptions, list: TokenList): Promise<void> {
  if (!o.file) return;
  try {
    await writeFileAtomic(
      o.file,
      `${JSON.stringify({ savedAt: new Date().toISOString(), ...list }, null, 2)}\n`,
      {
        mode: 0o600,
        forceMode: true,
      },
    );
  } catch (err) {
    ctx.log.warn(
      `${serviceOf(o.ep)}: the list of service-account tokens could not be saved: ${safeMessage(err)}`,
    );
  }
}

const label = (t: TokenRow) =>
  `${t.serviceAccount}/${t.name} (id ${t.id}, created ${t.created || 'at an unknown time'})`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Which tokens are suspect: not in the previous list, or reported by an earlier compromise rotation. */
function suspects(now: readonly TokenRow[], previous: TokenList): TokenRow[] {
  const known = new Set(previous.tokens.map((t) => t.id));
  const reported = new Set(previous.reported);
  return now.filter((t) => !known.has(t.id) || reported.has(t.id));
}

/** Compromise: revokes every session of the user. */
async function revokeSessions(ctx: TargetContext, o: EvictOptions): Promise<EvictionFinding> {
  const service = serviceOf(o.ep);
  let sessions: { id: number; createdAt: string }[];
  try {
    sessions = await listSessions(ctx, o);
  } catch (err) {
    return { service, foothold: 'sessions', status: 'unchecked', text: `could not check: ${reason(err)}` };
  }
  if (sessions.length === 0) {
    return { service, foothold: 'sessions', status: 'clean', text: `no session of ${o.ep.user}` };
  }
  const failed: string[] = [];
  for (const s of sessions) {
    try {
      // 404: already revoked (a re-run of finish after a crash).
      await call(
        ctx,
        o,
        { method: 'POST', path: 'api/user/revoke-auth-token', json: { authTokenId: s.id } },
        [200, 404],
      );
    } catch (err) {
      failed.push(`${s.id}: ${reason(err)}`);
    }
  }
  if (failed.length > 0) {
    return {
      service,
      foothold: 'sessions',
      status: 'reported',
      text: `${plural(failed.length, 'session')} of ${o.ep.user} could not be revoked (${failed.join('; ')}): revoke them under Administration > Users > ${o.ep.user} > Sessions`,
    };
  }
  return {
    service,
    foothold: 'sessions',
    status: 'removed',
    text: `${plural(sessions.length, 'session')} of ${o.ep.user} revoked (signed in before the rotation; they must sign in again)`,
  };
}

/**
 * At finish: on compromise, revokes the user's sessions and reports (or deletes) the tokens created
 * since the previous rotation; on any trigger, saves the token list. Returns the findings (compromise only).
 *
 * @example
 * findings = await evictGrafana(ctx, { ep, timeoutMs, password: next[key], file, deleteTokens: false });
 */
export async function evictGrafana(ctx: TargetContext, o: EvictOptions): Promise<EvictionFinding[]> {
  const compromise = ctx.trigger === 'compromise';
  const service = serviceOf(o.ep);
  const findings: EvictionFinding[] = compromise ? [await revokeSessions(ctx, o)] : [];
  let now: TokenRow[];
  try {
    now = await listTokens(ctx, o);
  } catch (err) {
    if (!compromise) ctx.log.warn(`${service}: service-account tokens not listed: ${reason(err)}`);
    return compromise
      ? [
          ...findings,
          { service, foothold: 'tokens', status: 'unchecked', text: `could not check: ${reason(err)}` },
        ]
      : [];
  }
  const previous = await readList(o.file);
  if (!compromise) {
    // Reported tokens stay reported; everything else present now is known from here on.
    const reported =
      typeof previous === 'object' ? previous.reported.filter((id) => now.some((t) => t.id === id)) : [];
    await writeList(ctx, o, { tokens: now.filter((t) => !reported.includes(t.id)), reported });
    return [];
  }
  if (typeof previous !== 'object') {
    // No list to compare with: every token is reported, none deleted (rekey cannot tell which are new).
    const why = previous ?? 'no list from a previous rotation to tell which are new';
    await writeList(ctx, o, { tokens: [], reported: now.map((t) => t.id) });
    findings.push(
      now.length === 0
        ? { service, foothold: 'tokens', status: 'clean', text: 'no service-account token' }
        : {
            service,
            foothold: 'tokens',
            status: 'reported',
            text: `${plural(now.length, 'service-account token')} (${why}; none deleted): ${now.map(label).join(', ')}; review them under Administration > Service accounts`,
          },
    );
    return findings;
  }
  const suspect = suspects(now, previous);
  const known = now.filter((t) => !suspect.includes(t));
  if (suspect.length === 0) {
    await writeList(ctx, o, { tokens: known, reported: [] });
    findings.push({
      service,
      foothold: 'tokens',
      status: 'clean',
      text: 'no service-account token created since the previous rotation',
    });
    return findings;
  }
  if (!o.deleteTokens) {
    await writeList(ctx, o, { tokens: known, reported: suspect.map((t) => t.id) });
    findings.push({
      service,
      foothold: 'tokens',
      status: 'reported',
      text: `${plural(suspect.length, 'service-account token')} created since the previous rotation, left in place (deleteTokensOnCompromise is off): ${suspect.map(label).join(', ')}; review them under Administration > Service accounts`,
    });
    return findings;
  }
  const left: TokenRow[] = [];
  const failed: string[] = [];
  for (const t of suspect) {
    try {
      // 404: already deleted (a re-run of finish after a crash).
      await call(
        ctx,
        o,
        { method: 'DELETE', path: `api/serviceaccounts/${t.serviceAccountId}/tokens/${t.id}` },
        [200, 404],
      );
    } catch (err) {
      left.push(t);
      failed.push(`${label(t)}: ${reason(err)}`);
    }
  }
  await writeList(ctx, o, { tokens: known, reported: left.map((t) => t.id) });
  const deleted = suspect.filter((t) => !left.includes(t));
  if (deleted.length > 0) {
    findings.push({
      service,
      foothold: 'tokens',
      status: 'removed',
      text: `${plural(deleted.length, 'service-account token')} created since the previous rotation deleted (deleteTokensOnCompromise): ${deleted.map(label).join(', ')}`,
    });
  }
  if (failed.length > 0) {
    findings.push({
      service,
      foothold: 'tokens',
      status: 'reported',
      text: `${plural(failed.length, 'service-account token')} could not be deleted: ${failed.join('; ')}`,
    });
  }
  return findings;
}

/**
 * Read-only (`rekey verify --trigger compromise`): the user's open sessions and the tokens the list
 * does not know, as findings. Changes nothing, not even the list.
 *
 * @example
 * await checkGrafana(ctx, { ep, timeoutMs, password: cur[key], file, deleteTokens: false });
 */
export async function checkGrafana(ctx: TargetContext, o: EvictOptions): Promise<EvictionFinding[]> {
  const service = serviceOf(o.ep);
  const findings: EvictionFinding[] = [];
  let rejected: string | undefined;
  try {
    const sessions = await listSessions(ctx, o);
    findings.push(
      sessions.length === 0
        ? { service, foothold: 'sessions', status: 'clean', text: `no session of ${o.ep.user}` }
        : {
            service,
            foothold: 'sessions',
            status: 'reported',
            text: `${plural(sessions.length, 'session')} of ${o.ep.user} open (signed in ${sessions.map((s) => s.createdAt).join(', ')}): yours, or someone else's with the current password`,
          },
    );
  } catch (err) {
    findings.push({
      service,
      foothold: 'sessions',
      status: 'unchecked',
      text: `could not check: ${reason(err)}`,
    });
    // A rejected password is not tried again (each try counts toward Grafana's lockout).
    if (err instanceof ApiError && err.status === 401) rejected = reason(err);
  }
  if (rejected !== undefined) {
    findings.push({ service, foothold: 'tokens', status: 'unchecked', text: `could not check: ${rejected}` });
    return findings;
  }
  try {
    const now = await listTokens(ctx, o);
    const previous = await readList(o.file);
    const suspect = typeof previous === 'object' ? suspects(now, previous) : now;
    const basis =
      typeof previous === 'object'
        ? 'not in the list of the previous rotation'
        : `${previous ?? 'no list from a previous rotation'}, so every token is listed`;
    findings.push(
      suspect.length === 0
        ? { service, foothold: 'tokens', status: 'clean', text: `no service-account token ${basis}` }
        : {
            service,
            foothold: 'tokens',
            status: 'reported',
            text: `${plural(suspect.length, 'service-account token')} ${basis}: ${suspect.map(label).join(', ')}`,
          },
    );
  } catch (err) {
    findings.push({
      service,
      foothold: 'tokens',
      status: 'unchecked',
      text: `could not check: ${reason(err)}`,
    });
  }
  return findings;
}
