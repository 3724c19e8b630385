/**
 * Canary: a full rotation (and a reverted one) with random, recognisable passwords, watched three
 * ways — a second client running MONITOR, SLOWLOG with every command logged, and a TCP proxy that
 * records every byte rekey sends. Redis 7 hides admin commands from MONITOR and redacts ACL SETUSER
 * in SLOWLOG, so those two alone could not catch a `>plaintext` rule; the proxy can: the plaintext
 * may only ever travel as the argument of AUTH.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclHash } from '../../../src/targets/redis/acl.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import { useRedis } from '../../helpers/services.js';
import { admin, canary, connect, ctx, recordingProxy, secretFor, values } from './helpers.js';

describe('no plaintext password in any command', () => {
  const old = canary('old');
  const next = canary('new');
  const retry = canary('retry');
  const redis = useRedis({ password: old, mode: 'config' });
  const monitorLines: string[] = [];
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let monitor: Awaited<ReturnType<typeof connect>>;

  beforeAll(async () => {
    await admin(redis(), old, ['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
    await admin(redis(), old, ['CONFIG', 'SET', 'slowlog-max-len', '10000']);
    monitor = await connect(redis(), old);
    await monitor.monitor((line) => monitorLines.push(String(line)));
    proxy = await recordingProxy(redis());

    const t = redisTarget(secretFor(proxy), { env: new Map(), configDir: '/nonexistent' });
    await t.checkCurrent(ctx, values(old));
    await t.inspect(ctx, values(old));
    await t.stage(ctx, values(old), values(next));
    await t.test(ctx, values(next));
    await t.afterDeploy?.(ctx, values(old), values(next));
    await t.verify(ctx, values(next), values(old), false);
    await t.finish(ctx, values(old), values(next));
    await t.verify(ctx, values(next), values(old), true);
    // A second rotation that is rolled back.
    await t.stage(ctx, values(next), values(retry));
    await t.revert(ctx, values(next), values(retry));
    await new Promise((resolve) => setTimeout(resolve, 100)); // let MONITOR catch up
  });

  afterAll(async () => {
    if (monitor?.isOpen) monitor.destroy();
    await proxy?.close();
  });

  const secrets = () => [old, next, retry];
  const leaks = (text: string) => secrets().filter((s) => text.includes(s));

  it('on the wire: the passwords travel only as AUTH arguments; ACL rules carry hashes', () => {
    const commands = proxy.commands();
    const carrying = commands.filter((c) => c.some((arg) => leaks(arg).length > 0));
    expect(carrying.length).toBeGreaterThan(5); // every operation authenticated through the proxy
    expect(carrying.map((c) => c[0]?.toUpperCase())).toEqual(carrying.map(() => 'AUTH'));
    const setusers = commands.filter((c) => c[0] === 'ACL' && c[1] === 'SETUSER').map((c) => c.slice(2));
    expect(setusers).toContainEqual(['default', `#${aclHash(next)}`]);
    expect(setusers).toContainEqual(['default', `!${aclHash(old)}`]);
    expect(setusers.flat().every((a) => /^(default|resetpass|[#!][0-9a-f]{64})$/.test(a))).toBe(true);
    expect(commands.some((c) => c[0] === 'KEYS')).toBe(false);
  });

  it('MONITOR saw the traffic and never a password', () => {
    expect(monitorLines.some((l) => l.includes('"PING"'))).toBe(true);
    expect(monitorLines.some((l) => /"AUTH" "\(redacted\)"/.test(l))).toBe(true);
    expect(monitorLines.flatMap(leaks)).toEqual([]);
  });

  it('SLOWLOG, the server log and redis.conf hold no password', async () => {
    const slowlog = JSON.stringify(await admin(redis(), next, ['SLOWLOG', 'GET', '10000']));
    expect(slowlog).toContain('SETUSER');
    expect(leaks(slowlog)).toEqual([]);
    expect(leaks(await readFile(redis().logFile, 'utf8'))).toEqual([]);
    expect(leaks(await readFile(redis().configFile ?? '', 'utf8'))).toEqual([]);
  });

  it('the MONITOR connection, authenticated with the old password, survived the rotation', async () => {
    expect(monitor.isOpen).toBe(true);
    const before = monitorLines.length;
    await admin(redis(), next, ['PING']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(monitorLines.length).toBeGreaterThan(before);
  });
});
