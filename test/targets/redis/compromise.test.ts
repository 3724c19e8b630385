/**
 * Issue 12, Redis: `--trigger compromise` leaves an attacker who held the old password no way back
 * in. The attacker adds a password of their own to the rotated user and keeps a connection open;
 * after the compromise rotation their password is WRONGPASS (also after a Redis restart: the eviction
 * was persisted), their open connection is closed, and only the new password works. A password
 * another ACL user gains after preflight is reported by name, and removed with `evictUnknown`.
 * (Each assertion fails on the code before issue 12: finish removed only the old password's hash.)
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { rotate } from '../../../src/engine/engine.js';
import { silentProgress } from '../../../src/engine/progress.js';
import { envValues, readEnvFile } from '../../../src/envfile/index.js';
import type { StackDeps } from '../../../src/governance/stack-deps.js';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import type { TargetContext } from '../../../src/targets/types.js';
import { createVerifier } from '../../../src/verify/index.js';
import { record } from '../../helpers/resilience.js';
import { useRedis } from '../../helpers/services.js';
import { stackDeps } from '../../helpers/stack-deps.js';
import {
  aclPasswords,
  admin,
  canary,
  connect,
  login,
  secretFor,
  values,
  writeRedisStack,
} from './helpers.js';

const compromise: TargetContext = { trigger: 'compromise', log: silentLogger };

describe.each(['config', 'aclfile'] as const)('redis compromise rotation (%s)', (mode) => {
  const old = canary('old');
  const redis = useRedis({ password: old, mode });
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
  });

  it('evicts the attacker: their own password is rejected (also after a restart), their connection closed', async () => {
    const dir = await makeOwnedDir('rekey-redis-compromise-');
    dirs.push(dir);
    await writeRedisStack(dir, { port: redis().port, env: [`REDIS_PASSWORD=${old}`] });
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    const targets = loaded.config.secrets.map((s) => {
      if (s.type !== 'redis') throw new Error(`unexpected ${s.type}`);
      return redisTarget(s, { env: new Map(), configDir: dir });
    });
    const deps: StackDeps = {
      ...stackDeps(loaded),
      verifier: createVerifier(loaded.config),
      makeTargets: () => targets,
      progress: silentProgress,
      log: silentLogger,
    };

    // The attacker, with the stolen password: a password of their own, and a connection kept open.
    const theirs = canary('attacker');
    const attacker = await connect(redis(), old);
    await attacker.sendCommand(['ACL', 'SETUSER', 'default', `>${theirs}`]);
    expect(await login(redis(), theirs)).toBe('PONG');

    // The plan says what the compromise rotation does with the extra password.
    const notes = await targets[0]?.inspect(compromise, values(old));
    expect(notes?.map((n) => n.text)).toContain(
      'user default has 2 passwords: the compromise rotation keeps only the new one (resetpass)',
    );
    const result = await rotate(deps, { trigger: 'compromise' });
    expect(result.outcome).toBe('rotated');
    const next = envValues((await readEnvFile(path.join(dir, '.env'))).doc).get('REDIS_PASSWORD') ?? '';
    expect(next).not.toBe(old);

    const theirsNow = await login(redis(), theirs);
    // The open connection is gone: a command on it fails (no reconnect: reconnectStrategy false).
    const closed = await attacker.set('attacker:was-here', '1').then(
      () => false,
      () => true,
    );
    const suite = `redis target in process (${mode})`;
    const row = (foothold: string, ok: boolean) =>
      record({ kind: 'eviction', suite, service: 'Redis', foothold, result: 'removed', ok });
    row('password the attacker added to the rotated user', theirsNow === 'WRONGPASS');
    row('connection the attacker kept open', closed);
    expect(theirsNow).toBe('WRONGPASS');
    expect(closed).toBe(true);
    expect(await login(redis(), old)).toBe('WRONGPASS');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await aclPasswords(redis(), next)).toHaveLength(1);
    if (attacker.isOpen) attacker.destroy();

    const report = targets[0]?.evictions?.() ?? [];
    expect(report.map((f) => [f.foothold, f.status])).toEqual([
      ['passwords', 'removed'],
      ['connections', 'removed'],
      ['users', 'clean'],
    ]);
    expect(JSON.stringify(report)).not.toMatch(/[0-9a-f]{64}/);
    // The engine's eviction report carries the target's findings.
    expect(result.eviction?.filter((f) => f.service.startsWith('Redis'))).toEqual(report);

    await redis().restart();
    const afterRestart = await login(redis(), theirs);
    row('password the attacker added, after a Redis restart', afterRestart === 'WRONGPASS');
    expect(afterRestart).toBe('WRONGPASS');
    expect(await login(redis(), next)).toBe('PONG');
    expect(await aclPasswords(redis(), next)).toHaveLength(1);
    await admin(redis(), next, ['ACL', 'SETUSER', 'default', 'resetpass', `>${old}`]);
  });

  it.each([false, true])(
    'another user given a password after preflight is reported by name (evictUnknown %s)',
    async (evictUnknown) => {
      const cur = canary('cur');
      const other = canary('other');
      const evil = canary('evil');
      // Start from a known state: default has `cur` only; user `other` exists with its own password.
      await admin(redis(), old, ['ACL', 'SETUSER', 'default', 'resetpass', `>${cur}`]);
      await admin(redis(), cur, ['ACL', 'SETUSER', 'other', 'on', 'resetpass', `>${other}`, '~*', '+@all']);
      const t = redisTarget(secretFor(redis()), { env: new Map(), configDir: '.', evictUnknown });
      await t.checkCurrent(compromise, values(cur));
      // After preflight, the attacker (as default) gives `other` a password and keeps a connection as `other`.
      await admin(redis(), cur, ['ACL', 'SETUSER', 'other', `>${evil}`]);
      const held = await connect(redis(), evil, 'other');
      const next = values(canary('next'));
      await t.stage(compromise, values(cur), next);
      await t.test(compromise, next);
      await t.finish(compromise, values(cur), next);
      const users = (t.evictions?.() ?? []).filter((f) => f.foothold === 'users');
      const evilNow = await login(redis(), evil, 'other');
      record({
        kind: 'eviction',
        suite: `redis target in process (${mode}, evictUnknown ${evictUnknown})`,
        service: 'Redis',
        foothold: 'password given to another ACL user after preflight',
        result: evictUnknown ? 'removed' : 'reported',
        ok:
          users.length === 1 &&
          (users[0]?.text.includes('user other') ?? false) &&
          evilNow === (evictUnknown ? 'WRONGPASS' : 'PONG'),
      });
      expect(users).toHaveLength(1);
      expect(users[0]?.text).toContain('user other');
      expect(users[0]?.status).toBe(evictUnknown ? 'removed' : 'reported');
      expect(JSON.stringify(users)).not.toContain(evil);
      expect(evilNow).toBe(evictUnknown ? 'WRONGPASS' : 'PONG');
      expect(await login(redis(), other, 'other')).toBe('PONG'); // what preflight saw stays
      if (evictUnknown) await expect(held.ping()).rejects.toThrow();
      else expect(await held.ping()).toBe('PONG');
      if (held.isOpen) held.destroy();
      await admin(redis(), next.REDIS_PASSWORD ?? '', ['ACL', 'DELUSER', 'other']);
      await admin(redis(), next.REDIS_PASSWORD ?? '', ['ACL', 'SETUSER', 'default', 'resetpass', `>${old}`]);
    },
  );
});
