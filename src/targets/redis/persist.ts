/**
 * How a password change survives a Redis restart (SERVICE-FACTS "Redis", measured):
 * - an `aclfile` → `ACL SAVE` writes the users to it (CONFIG REWRITE would not);
 * - a config file and no aclfile → `CONFIG REWRITE` writes a `user` line with the hashes. It leaves a
 *   stale plaintext `requirepass` line, which `CONFIG GET requirepass` still reports (the user line
 *   wins at restart). At finish, for the default user, rekey clears `requirepass` and restores the
 *   hashes in one MULTI (no other client can see the in-between state), so the rewritten file holds
 *   only the hashed user line: no plaintext on the wire, none left in redis.conf, no stale value;
 * - neither (password on the command line) → nothing can be saved: the deploy must pass the new
 *   password when it restarts Redis, and the target checks after the deploy that it did.
 */
import { MultiErrorReply } from 'redis';
import type { SecretConfigOf } from '../../config/schema.js';
import type { PlanNote } from '../../engine/ports.js';
import { RekeyError } from '../../lib/errors.js';
import { getUser } from './acl.js';
import { describeDriverError, type RedisConn, type RedisEndpoint, toRekeyError, where } from './connect.js';

export type PersistSetting = SecretConfigOf<'redis'>['persist'];
export type PersistMode = 'rewrite' | 'acl-save' | 'none';

export interface Persistence {
  readonly setting: PersistSetting;
  /** What will run. */
  readonly mode: PersistMode;
  readonly configFile?: string;
  readonly aclFile?: string;
  /** Why the setting cannot work on this server (stage refuses before changing anything). */
  readonly problem?: string;
}

/**
 * Reads `CONFIG GET aclfile` and `INFO server` (`config_file`) and decides how to persist, honouring
 * the `persist` setting ('none' reads nothing).
 *
 * @example
 * const p = await resolvePersistence(conn, ep, 'auto'); // { mode: 'rewrite', configFile: '/etc/redis.conf', ... }
 */
export async function resolvePersistence(
  conn: RedisConn,
  ep: RedisEndpoint,
  setting: PersistSetting,
): Promise<Persistence> {
  if (setting === 'none') return { setting, mode: 'none' };
  let aclFile = '';
  let configFile = '';
  try {
    const reply = await conn.command<unknown>(['CONFIG', 'GET', 'aclfile']);
    aclFile = Array.isArray(reply) ? String(reply[1] ?? '') : '';
    const info = String(await conn.command<unknown>(['INFO', 'server']));
    configFile = /^config_file:(.*)$/m.exec(info)?.[1]?.trim() ?? '';
  } catch (err) {
    if (setting !== 'auto') return { setting, mode: setting };
    return {
      setting,
      mode: 'none',
      problem: `cannot tell how ${where(ep)} persists users (${describeDriverError(err)}); set \`persist\` to rewrite, acl-save or none`,
    };
  }
  const files = {
    ...(configFile ? { configFile } : {}),
    ...(aclFile ? { aclFile } : {}),
  };
  const detected: PersistMode = aclFile ? 'acl-save' : configFile ? 'rewrite' : 'none';
  if (setting === 'auto') return { setting, mode: detected, ...files };
  const problem =
    setting === 'rewrite' && aclFile
      ? `persist: rewrite, but ${where(ep)} keeps users in an aclfile (${aclFile}): CONFIG REWRITE would not save them; use acl-save or auto`
      : setting === 'rewrite' && !configFile
        ? `persist: rewrite, but ${where(ep)} runs without a config file`
        : setting === 'acl-save' && !aclFile
          ? `persist: acl-save, but ${where(ep)} has no aclfile`
          : undefined;
  return { setting, mode: setting, ...files, ...(problem ? { problem } : {}) };
}

/** One line for the plan. */
export function describePersistence(p: Persistence, user: string): PlanNote {
  if (p.problem) return { level: 'warn', text: `${p.problem} (stage will refuse)` };
  switch (p.mode) {
    case 'acl-save':
      return { level: 'info', text: `persist: ACL SAVE to ${p.aclFile ?? 'the aclfile'}` };
    case 'rewrite':
      return {
        level: 'info',
        text:
          `persist: CONFIG REWRITE of ${p.configFile ?? 'the config file'} (it also saves any other runtime CONFIG SET)` +
          (user === 'default'
            ? '; at finish `requirepass` is cleared in favour of the hashed user line'
            : ''),
      };
    case 'none':
      return {
        level: 'warn',
        trap: 'not-persistable',
        text:
          p.setting === 'none'
            ? 'persist: none (configured): the new password lasts only until Redis restarts, unless the deploy passes it'
            : 'Redis runs without a config file or aclfile: the new password lasts only until Redis restarts, unless the deploy passes it to Redis (the deploy reads the env file); rekey checks after the deploy that Redis still accepts it',
      };
  }
}

/**
 * Saves the user as Redis holds it now. `final` (finish only): for the default user with CONFIG
 * REWRITE, first clear the stale plaintext `requirepass` (see the file comment).
 *
 * @example
 * await persist(conn, ep, persistence, { final: true });
 */
export async function persist(
  conn: RedisConn,
  ep: RedisEndpoint,
  p: Persistence,
  options: { final?: boolean } = {},
): Promise<void> {
  if (p.problem) throw new RekeyError('ERR_TARGET_REJECTED', `${ep.key}: ${p.problem}`);
  if (p.mode === 'rewrite' && options.final && ep.user === 'default') await clearRequirepass(conn, ep);
  try {
    if (p.mode === 'acl-save') await conn.command(['ACL', 'SAVE']);
    if (p.mode !== 'rewrite') return;
    await conn.command(['CONFIG', 'REWRITE']);
  } catch (err) {
    const e = toRekeyError(err, ep, p.mode === 'acl-save' ? 'ACL SAVE' : 'CONFIG REWRITE');
    throw new RekeyError(e.code, e.message, { cause: err, hint: PERSIST_HINT });
  }
}

const CLEAR_HINT =
  'Run `rekey recover` once Redis answers normally again: finish runs again, checking the user first (rekey never leaves it nopass).';

const PERSIST_HINT =
  'Let Redis write its config file or aclfile (a read-only mount cannot be rewritten), or set `persist: none` for this secret and have the deploy pass the new password to Redis.';

/**
 * `CONFIG SET requirepass ""` leaves the default user with `nopass`; the same MULTI puts its hashes
 * back, so no client ever sees it open. A no-op change when requirepass is already empty. Then
 * `ACL GETUSER` again: the user must hold every hash it held, and not `nopass`. Any failure (a
 * command of the MULTI failed, no reply in time, the check) throws, without retrying here: the caller
 * makes sure, on a new connection, that the user is not left open (see `finish`).
 */
async function clearRequirepass(conn: RedisConn, ep: RedisEndpoint): Promise<void> {
  const { passwords } = await getUser(conn, ep);
  if (passwords.length === 0) return;
  const restore = ['ACL', 'SETUSER', ep.user, 'resetpass', ...passwords.map((h) => `#${h}`)];
  try {
    await conn.transaction([['CONFIG', 'SET', 'requirepass', ''], restore]);
  } catch (err) {
    const failed = err instanceof MultiErrorReply ? [...err.errors()][0] : undefined;
    const e = toRekeyError(failed ?? err, ep, 'clearing requirepass');
    throw new RekeyError(e.code, e.message, { cause: err, hint: CLEAR_HINT });
  }
  const after = await getUser(conn, ep);
  if (after.flags.includes('nopass') || passwords.some((h) => !after.passwords.includes(h))) {
    throw new RekeyError(
      'ERR_TARGET_REJECTED',
      `${ep.key}: ${where(ep)}: after clearing requirepass, ACL GETUSER ${ep.user} shows ${after.flags.includes('nopass') ? 'nopass' : 'a password missing'}`,
      { hint: CLEAR_HINT },
    );
  }
}
