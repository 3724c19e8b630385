/**
 * The rotation engine driving the Redis target and the session purge end to end, in process, against
 * a real throwaway Redis: rotate (stage → test → commit → invalidate → verify → finish), then a
 * restart keeps exactly the env file's new password; a failure at verify rolls everything back.
 * (The registry in src/targets/index.ts is wired separately; here targets are built directly.)
 */
import path from 'node:path';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { rotate } from '../../../src/engine/engine.js';
import { silentProgress } from '../../../src/engine/progress.js';
import { envValues, readEnvFile } from '../../../src/envfile/index.js';
import type { StackDeps } from '../../../src/governance/stack-deps.js';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { createSessions } from '../../../src/sessions/index.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import { createVerifier } from '../../../src/verify/index.js';
import { useRedis } from '../../helpers/services.js';
import { stackDeps } from '../../helpers/stack-deps.js';
import { aclPasswords, canary, login, writeRedisStack } from './helpers.js';

describe('engine + redis target + session purge', () => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode: 'config' });
  const dirs: string[] = [];
  /** The password the first test left in Redis and its env file. */
  let lastPassword: string | undefined;
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
  });

  const stack = async (password: string) => {
    const dir = await makeOwnedDir('rekey-redis-engine-');
    dirs.push(dir);
    await writeRedisStack(dir, {
      port: redis().port,
      env: ['APP=bi', `REDIS_PASSWORD=${password}`],
      more: ['sessions:', '  redis: { patterns: ["session:*"], batch: 100 }'],
    });
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    const deps: StackDeps = {
      ...stackDeps(loaded),
      verifier: createVerifier(loaded.config),
      makeTargets: (env) =>
        loaded.config.secrets.map((s) => {
          if (s.type !== 'redis') throw new Error(`unexpected ${s.type}`);
          return redisTarget(s, { env, configDir: dir });
        }),
      makeSessions: (env) => createSessions(loaded.config, env),
      progress: silentProgress,
      log: silentLogger,
    };
    const envNow = async () => envValues((await readEnvFile(path.join(dir, '.env'))).doc);
    return { deps, envNow };
  };

  const seedSessions = async (password: string) => {
    const c = createClient({
      socket: { host: '127.0.0.1', port: redis().port, reconnectStrategy: false },
      password,
    });
    c.on('error', () => {});
    await c.connect();
    await c.mSet(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`session:${i}`, 'x'])));
    await c.set('keep:me', 'y');
    const size = async () => c.dbSize();
    return { size, close: () => c.destroy() };
  };

  it('rotates: the env file and Redis agree on a new password that survives a restart', async () => {
    const { deps, envNow } = await stack(old);
    const seeded = await seedSessions(old);
    const result = await rotate(deps, { trigger: 'scheduled' });
    expect(result.outcome).toBe('rotated');
    const next = (await envNow()).get('REDIS_PASSWORD') ?? '';
    lastPassword = next;
    expect(next).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(await seeded.size()).toBe(1); // sessions purged, keep:me kept; this connection survived
    seeded.close();
    expect(result.checks.map((c) => [c.name, c.ok])).toContainEqual(['Redis Auth', true]);
    await redis().restart();
    expect(await login(redis(), next)).toBe('PONG');
    expect(await login(redis(), old)).toBe('WRONGPASS');
  });

  it('a failure at verify rolls back: Redis accepts only the old password again', async () => {
    const cur = lastPassword ?? '';
    expect(cur).not.toBe('');
    const { deps, envNow } = await stack(cur);
    process.env.REKEY_FAIL_AT = 'verify';
    let result: Awaited<ReturnType<typeof rotate>>;
    try {
      result = await rotate(deps, { trigger: 'scheduled' });
    } finally {
      delete process.env.REKEY_FAIL_AT;
    }
    expect(result.outcome).toBe('rolled-back');
    expect(result.steps.map((s) => `${s.id}:${s.state}`)).toContain('revert:REDIS_PASSWORD:done');
    expect((await envNow()).get('REDIS_PASSWORD')).toBe(cur);
    expect(await login(redis(), cur)).toBe('PONG');
    expect(await aclPasswords(redis(), cur)).toHaveLength(1);
    await redis().restart();
    expect(await login(redis(), cur)).toBe('PONG');
    expect(await aclPasswords(redis(), cur)).toHaveLength(1);
  });
});
