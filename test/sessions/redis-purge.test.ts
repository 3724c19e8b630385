/**
 * purgePattern's two paths against a real throwaway Redis: the server-side script (the default), and
 * the client-side SCAN + UNLINK it falls back to when the server refuses scripts (an ACL user
 * without +@scripting), and a Redis out of memory (noeviction), where only deletions are allowed.
 * Either way exactly the matching keys go, binary ones included, and progress says which path ran.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisEndpoint, withRedis } from '../../src/lib/redis.js';
import { type PurgeProgress, purgePattern } from '../../src/sessions/redis-purge.js';
import { type RedisClient, useRedis, withRedisClient } from '../helpers/services.js';

const PASSWORD = 'purge-test-pw-0123456789';
const NO_SCRIPTS = 'no-scripts';
const NO_SCRIPTS_PW = 'no-scripts-pw-0123456789';

describe('purgePattern', () => {
  const redis = useRedis({ password: PASSWORD });
  const ep = (user = 'default'): RedisEndpoint => ({
    host: redis().host,
    port: redis().port,
    user,
    tls: false,
    key: 'REDIS_PASSWORD',
  });

  const withClient = <T>(fn: (c: RedisClient) => Promise<T>): Promise<T> =>
    withRedisClient(redis(), PASSWORD, fn);

  const BINARY = Buffer.from([0x73, 0x65, 0x73, 0x73, 0x69, 0x6f, 0x6e, 0x3a, 0xff, 0xfe]); // session:\xff\xfe

  beforeEach(() =>
    withClient(async (c) => {
      await c.sendCommand(['FLUSHALL', 'SYNC']);
      for (let i = 0; i < 5000; i += 500) {
        const args: string[] = [];
        for (let j = i; j < i + 500; j++) args.push(`session:${j}`, 'v', `keep:${j}`, 'v');
        await c.sendCommand(['MSET', ...args]);
      }
      await c.sendCommand(['SET', BINARY, 'bin']);
      await c.sendCommand(['SET', 'sessions:1', 'near miss']);
    }),
  );

  afterEach(() =>
    withClient(async (c) => {
      await c.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
      await c.sendCommand(['ACL', 'DELUSER', NO_SCRIPTS]);
    }),
  );

  const left = () =>
    withClient(async (c) => ({
      size: await c.dbSize(),
      sessions: (await c.sendCommand(['EXISTS', 'session:0', 'session:4999', BINARY])) as number,
    }));

  it('runs on the server by default: every match purged, nothing else', async () => {
    const progress: PurgeProgress[] = [];
    const n = await withRedis(ep(), PASSWORD, (conn) =>
      purgePattern(conn, 'session:*', { batch: 1000, onProgress: (p) => progress.push(p) }),
    );
    expect(n).toBe(5001);
    expect(await left()).toEqual({ size: 5001, sessions: 0 });
    expect(progress.every((p) => p.via === 'script')).toBe(true);
    expect(progress.at(-1)).toMatchObject({ purged: 5001 });
    // 10,003 keys, at most 1000 examined per call: at least 10 calls, each reported.
    expect(progress.length).toBeGreaterThanOrEqual(10);
  });

  it('falls back to the client when the user may not run scripts', async () => {
    await withClient((c) =>
      c.sendCommand(['ACL', 'SETUSER', NO_SCRIPTS, 'on', `>${NO_SCRIPTS_PW}`, '~*', '+@all', '-@scripting']),
    );
    const progress: PurgeProgress[] = [];
    const n = await withRedis(ep(NO_SCRIPTS), NO_SCRIPTS_PW, (conn) =>
      purgePattern(conn, 'session:*', { batch: 300, onProgress: (p) => progress.push(p) }),
    );
    expect(n).toBe(5001);
    expect(await left()).toEqual({ size: 5001, sessions: 0 });
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.every((p) => p.via === 'client')).toBe(true);
  });

  it('a refused UNLINK on the client path fails the purge with its error, never as an unhandled rejection', async () => {
    await withClient((c) =>
      c.sendCommand([
        'ACL',
        'SETUSER',
        NO_SCRIPTS,
        'reset',
        'on',
        `>${NO_SCRIPTS_PW}`,
        '~*',
        '+@all',
        '-@scripting',
        '-unlink',
      ]),
    );
    const err = await withRedis(ep(NO_SCRIPTS), NO_SCRIPTS_PW, (conn) =>
      purgePattern(conn, 'session:*', { batch: 100 }),
    ).catch((e: unknown) => e);
    expect(String(err)).toMatch(/NOPERM|no permissions/i);
    // The SCANs after the refused UNLINK settled too: the process is still here to say so.
    expect((await left()).sessions).toBeGreaterThan(0);
  });

  it('works when Redis is out of memory (noeviction: writes refused, UNLINK allowed)', async () => {
    await withClient((c) =>
      c.sendCommand(['CONFIG', 'SET', 'maxmemory', '1', 'maxmemory-policy', 'noeviction']),
    );
    const progress: PurgeProgress[] = [];
    const n = await withRedis(ep(), PASSWORD, (conn) =>
      purgePattern(conn, 'session:*', { batch: 1000, onProgress: (p) => progress.push(p) }),
    );
    expect(n).toBe(5001);
    expect(await left()).toEqual({ size: 5001, sessions: 0 });
    // Redis 7 checks OOM per command inside a script without flags, so the script runs; a server that
    // refuses the EVAL itself sends the purge down the client path.
    expect(progress.at(-1)?.via).toMatch(/^(script|client)$/);
  });

  it('a second purge finds nothing', async () => {
    await withRedis(ep(), PASSWORD, (conn) => purgePattern(conn, 'session:*', { batch: 1000 }));
    expect(await withRedis(ep(), PASSWORD, (conn) => purgePattern(conn, 'session:*', { batch: 1000 }))).toBe(
      0,
    );
  });
});
