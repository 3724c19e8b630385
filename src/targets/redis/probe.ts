/**
 * The "Redis Auth" check (DESIGN.md validation table): a NEW connection, AUTH + PING → PONG; and,
 * once the old password is retired, the same with it → WRONGPASS.
 */
import { RekeyError } from '../../lib/errors.js';
import type { CheckResult } from '../types.js';
import { classify, type RedisConn, type RedisEndpoint, toRekeyError, withRedis } from './connect.js';

/** What {@link probe} answers for a user that may not run PING (its AUTH succeeded). */
export const AUTH_ONLY = 'AUTH OK (the user may not run PING)';

/**
 * PING → 'PONG' on a connection AUTH already succeeded on, or ERR_TARGET_REJECTED with the reply.
 * A least-privileged user (`-@all +@read +@write`) may not run PING: its NOPERM comes only after AUTH
 * accepted the password, which is what the probe proves, so that answers {@link AUTH_ONLY}.
 *
 * @example
 * await withRedis(ep, next, probe); // 'PONG'
 */
export async function probe(conn: RedisConn): Promise<string> {
  let reply: string;
  try {
    reply = String(await conn.command(['PING']));
  } catch (err) {
    if (classify(err) === 'privilege') return AUTH_ONLY;
    throw err;
  }
  if (reply !== 'PONG') throw new RekeyError('ERR_TARGET_REJECTED', `PING answered ${JSON.stringify(reply)}`);
  return reply;
}

/**
 * The row "Redis Auth": the new password accepted on a new connection. Never throws.
 *
 * @example
 * await authRow(ep, next); // { name: 'Redis Auth', ok: true, detail: 'PONG (new password, new connection)', ... }
 */
export async function authRow(
  ep: RedisEndpoint,
  password: string,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const started = Date.now();
  const base = { name: 'Redis Auth', target: ep.key, expected: 'PONG' };
  try {
    const reply = await withRedis(ep, password, probe, signal);
    return { ...base, ok: true, detail: `${reply} (new password, new connection)`, ms: Date.now() - started };
  } catch (err) {
    const detail = toRekeyError(err, ep, 'new password').message;
    return { ...base, ok: false, detail, ms: Date.now() - started };
  }
}

/**
 * The row "Redis old password": the retired password refused with WRONGPASS. Never throws.
 *
 * @example
 * await oldPasswordRow(ep, old); // { name: 'Redis old password', ok: true, detail: 'old password rejected', ... }
 */
export async function oldPasswordRow(
  ep: RedisEndpoint,
  password: string,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const started = Date.now();
  const base = { name: 'Redis old password', target: ep.key, expected: 'WRONGPASS' };
  try {
    await withRedis(ep, password, probe, signal);
    return { ...base, ok: false, detail: 'old password still ACCEPTED', ms: Date.now() - started };
  } catch (err) {
    const e = toRekeyError(err, ep, 'old password');
    const ok = e.code === 'ERR_TARGET_AUTH';
    return {
      ...base,
      ok,
      detail: ok ? 'old password rejected' : e.message,
      ms: Date.now() - started,
    };
  }
}
