/**
 * finish with the default user in rewrite mode clears the stale plaintext `requirepass` with CONFIG
 * SET + a MULTI that restores the user's hashes: for a moment inside EXEC the user is `nopass` (any
 * password accepted). Whatever goes wrong there — a command of the MULTI failing when EXEC runs it, a
 * server that stops answering, a finish killed halfway — the user must end up holding the new
 * password and never `nopass`. Real throwaway Redis servers; faults injected by a proxy on the wire
 * and by CLIENT PAUSE.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { simpleCommands } from '../../../demo/stack/resp.js';
import { isRekeyError } from '../../../src/lib/errors.js';
import { aclHash } from '../../../src/targets/redis/acl.js';
import { COMMAND_TIMEOUT_MS } from '../../../src/targets/redis/connect.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import { record } from '../../helpers/resilience.js';
import { useRedis } from '../../helpers/services.js';
import { aclPasswords, admin, canary, ctx, login, secretFor, tamperingProxy, values } from './helpers.js';

const targetFor = (server: { host: string; port: number }) =>
  redisTarget(secretFor(server), { env: new Map(), configDir: '/nonexistent' });

/**
 * Whether the server lets in a client that sends no password at all: 'PONG' when the default user is
 * `nopass` (open), 'NOAUTH' when closed. (With nopass, `AUTH <anything>` is refused with ERR: a client
 * simply does not authenticate.)
 */
async function withoutPassword(server: { host: string; port: number }): Promise<string> {
  const replies = await simpleCommands(server.host, server.port, [['PING']]);
  return (replies[0] ?? '').replace(/^[+-]/, '').split(' ')[0] ?? '';
}

/** The default user's flags, read directly. */
async function flags(server: { host: string; port: number }, password: string): Promise<string[]> {
  const reply = (await admin(server as never, password, ['ACL', 'GETUSER', 'default'])) as unknown[];
  return (reply[reply.indexOf('flags') + 1] as string[]) ?? [];
}

/** Records the state after a fault as a resilience row, before the test asserts it. */
async function recordClosed(
  server: { host: string; port: number },
  next: string,
  cause: string,
  outcome: unknown,
): Promise<void> {
  const open = await withoutPassword(server);
  const held = await login(server, next);
  record({
    kind: 'fail-closed',
    suite: 'redis target (real Redis, in process)',
    point: 'finish:REDIS_PASSWORD (clearing requirepass)',
    cause,
    closed: open === 'NOAUTH' && held === 'PONG',
    detail: `finish ${outcome instanceof Error ? `failed (${(outcome as { code?: string }).code ?? 'error'})` : 'done'}; no password: ${open}; new password: ${held}`,
  });
}

describe('Redis finish never leaves the default user open', () => {
  const first = canary('first');
  const redis = useRedis({ password: first, mode: 'config' });
  /** The password Redis holds now (each test rotates from it). */
  let current = first;

  it('the restore inside the MULTI fails when EXEC runs it: finish fails, the user keeps the new password', async () => {
    const old = current;
    const next = canary('new');
    await targetFor(redis()).stage(ctx, values(old), values(next));
    // Every `ACL SETUSER … resetpass #<hash>` reaches Redis with a hash it refuses (64 × 'z', same
    // length): Redis checks it only when EXEC runs it, after CONFIG SET requirepass "" has run.
    const hash = Buffer.from(`#${aclHash(next)}`);
    const bad = Buffer.from(`#${'z'.repeat(64)}`);
    const proxy = await tamperingProxy(redis(), (chunk) => {
      if (!chunk.includes('resetpass')) return chunk;
      let out = chunk;
      for (let i = out.indexOf(hash); i >= 0; i = out.indexOf(hash, i + 1)) {
        out = Buffer.concat([out.subarray(0, i), bad, out.subarray(i + hash.length)]);
      }
      return out;
    });
    onTestFinished(() => proxy.close());

    const err = await targetFor(proxy)
      .finish(ctx, values(old), values(next))
      .catch((e: unknown) => e);
    await recordClosed(redis(), next, 'the restore in the MULTI fails when EXEC runs it', err);
    expect(isRekeyError(err)).toBe(true);
    expect((err as Error).message).toMatch(/clearing requirepass/);
    // The fault did open the user (CONFIG SET ran, the restore did not); finish closed it again.
    expect((err as Error).message).toMatch(/left with nopass: its new password was put back/);
    expect((err as Error).message).not.toContain(next);
    expect(await withoutPassword(redis())).toBe('NOAUTH');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await flags(redis(), next)).not.toContain('nopass');
    expect(await aclPasswords(redis(), next)).toEqual([aclHash(next)]);

    // recover runs finish again, without the fault: it completes.
    await targetFor(redis()).finish(ctx, values(old), values(next));
    expect(await admin(redis(), next, ['CONFIG', 'GET', 'requirepass'])).toEqual(['requirepass', '']);
    expect(await withoutPassword(redis())).toBe('NOAUTH');
    current = next;
  });

  it('a user left nopass by an earlier finish: the next finish (recover) closes it first', async () => {
    const old = current;
    const next = canary('new');
    await targetFor(redis()).stage(ctx, values(old), values(next));
    // What the MULTI's CONFIG SET requirepass "" leaves when its restore does not follow (failed, or
    // an earlier finish gave up): the default user open.
    await admin(redis(), old, ['ACL', 'SETUSER', 'default', 'nopass']);
    expect(await withoutPassword(redis())).toBe('PONG');

    const done = await targetFor(redis())
      .finish(ctx, values(old), values(next))
      .catch((e: unknown) => e);
    await recordClosed(redis(), next, 'user left nopass by an earlier finish, finish runs again', done);
    expect(done).toBeUndefined();
    expect(await withoutPassword(redis())).toBe('NOAUTH');
    expect(await login(redis(), old)).toBe('WRONGPASS');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await flags(redis(), next)).not.toContain('nopass');
    await redis().restart();
    expect(await login(redis(), next)).toBe('PONG');
    expect(await withoutPassword(redis())).toBe('NOAUTH');
    const conf = await readFile(redis().configFile ?? '', 'utf8');
    expect(conf).toMatch(new RegExp(`^user default on .*#${aclHash(next)}`, 'm'));
    expect(conf).not.toMatch(/nopass/);
    current = next;
  });

  it(
    'a server that stops answering during the MULTI (CLIENT PAUSE): finish times out, the user is not left open',
    async () => {
      const old = current;
      const next = canary('new');
      await targetFor(redis()).stage(ctx, values(old), values(next));
      const pauseMs = COMMAND_TIMEOUT_MS + 3000;
      let paused = false;
      // When the MULTI comes, pause every client first: EXEC gets no answer until the pause ends.
      const proxy = await tamperingProxy(redis(), async (chunk) => {
        if (!paused && chunk.includes('MULTI')) {
          paused = true;
          await admin(redis(), next, ['CLIENT', 'PAUSE', String(pauseMs), 'ALL']);
        }
        return chunk;
      });
      onTestFinished(() => proxy.close());

      const started = Date.now();
      const err = await targetFor(proxy)
        .finish(ctx, values(old), values(next))
        .catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      await recordClosed(redis(), next, 'Redis stops answering during the MULTI (CLIENT PAUSE ALL)', err);
      expect(paused).toBe(true);
      expect(isRekeyError(err)).toBe(true);
      expect((err as Error).message).toMatch(/no reply within 15 s/);
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS * 3);
      expect(await withoutPassword(redis())).toBe('NOAUTH');
      expect(await login(redis(), next)).toBe('PONG');
      expect(await flags(redis(), next)).not.toContain('nopass');

      await targetFor(redis()).finish(ctx, values(old), values(next));
      expect(await login(redis(), next)).toBe('PONG');
      expect(await withoutPassword(redis())).toBe('NOAUTH');
      expect(await admin(redis(), next, ['CONFIG', 'GET', 'requirepass'])).toEqual(['requirepass', '']);
      current = next;
    },
    COMMAND_TIMEOUT_MS * 4,
  );
});
