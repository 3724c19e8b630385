/**
 * Issue 12, Redis through an admin connection: a least-privileged app user (`~app:* -@all +@read
 * +@write`, an aclfile Redis 7) cannot read or change its own ACL, so rekey does that, the
 * persistence and the eviction as `admin` (here the default user), while the app's own login is what
 * preflight, test and verify use. The app's other ACL rules stay exactly as they were, the change
 * survives a restart, and the admin password is never rotated, printed or written. Without `admin`,
 * preflight stops with ERR_TARGET_PRIVILEGE saying to configure it, and nothing changes.
 * (Before this change every rotation of such a user stopped at preflight with NOPERM 'acl|getuser'.)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, secretKeysOf } from '../../../src/config/load.js';
import { rotate } from '../../../src/engine/engine.js';
import { silentProgress } from '../../../src/engine/progress.js';
import { envValues, readEnvFile } from '../../../src/envfile/index.js';
import type { StackDeps } from '../../../src/governance/stack-deps.js';
import { RekeyError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/log.js';
import { makeOwnedDir, removeOwnedDir } from '../../../src/lib/owned-dir.js';
import { redisTarget } from '../../../src/targets/redis/index.js';
import { createVerifier } from '../../../src/verify/index.js';
import { startCli } from '../../engine/stack.js';
import { findLeak, leakOccurrences } from '../../helpers/leak-forms.js';
import { record } from '../../helpers/resilience.js';
import { useRedis } from '../../helpers/services.js';
import { stackDeps } from '../../helpers/stack-deps.js';
import { admin, canary, connect, login, writeRedisStack } from './helpers.js';

const ADMIN_KEY = 'REDIS_ADMIN_PASSWORD';
/** The usual production ACL of an app user, with channels and a selector to prove they stay. */
const APP_RULES = [
  'on',
  '~app:*',
  'resetchannels',
  '&app:*',
  '-@all',
  '+@read',
  '+@write',
  '(~cache:* +get)',
];

const adminPw = canary('admin');
const redis = useRedis({ password: adminPw, mode: 'aclfile' });
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

/** User app with `password` and APP_RULES only, saved to the aclfile. */
async function resetApp(password: string): Promise<void> {
  await admin(redis(), adminPw, ['ACL', 'SETUSER', 'app', 'reset', `>${password}`, ...APP_RULES]);
  await admin(redis(), adminPw, ['ACL', 'SAVE']);
}

/** ACL GETUSER app without its password hashes: flags, commands, keys, channels, selectors. */
async function appRules(): Promise<unknown[]> {
  const reply = (await admin(redis(), adminPw, ['ACL', 'GETUSER', 'app'])) as unknown[];
  const i = reply.indexOf('passwords');
  return [...reply.slice(0, i), ...reply.slice(i + 2)];
}

/** The aclfile's line for app, its password hashes cut out. */
async function aclFileLine(): Promise<string> {
  const text = await fs.readFile(redis().aclFile ?? '', 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('user app ')) ?? '';
  return line
    .split(' ')
    .filter((w) => !/^#[0-9a-f]{64}$/.test(w))
    .join(' ');
}

/** A stack folder: env file with the app's and the admin's passwords, rekey.yaml for user app. */
async function stackDir(old: string, options: { admin?: boolean; adminValue?: string } = {}) {
  const dir = await makeOwnedDir('rekey-redis-admin-');
  dirs.push(dir);
  const adminLine =
    options.adminValue === undefined ? `${ADMIN_KEY}=${adminPw}` : `${ADMIN_KEY}=${options.adminValue}`;
  const adminCfg = options.admin === false ? '' : `, admin: { user: default, passwordKey: ${ADMIN_KEY} }`;
  await writeRedisStack(dir, {
    port: redis().port,
    env: [`REDIS_PASSWORD=${old}`, adminLine],
    fields: `user: app${adminCfg}`,
  });
  return dir;
}

async function engine(dir: string) {
  const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
  const env = envValues((await readEnvFile(path.join(dir, '.env'))).doc);
  const targets = loaded.config.secrets.map((s) => {
    if (s.type !== 'redis') throw new Error(`unexpected ${s.type}`);
    return redisTarget(s, { env, configDir: dir, stateDir: loaded.stateDir });
  });
  const deps: StackDeps = {
    ...stackDeps(loaded),
    verifier: createVerifier(loaded.config),
    makeTargets: () => targets,
    progress: silentProgress,
    log: silentLogger,
  };
  return { deps, targets };
}

/** AUTH as app + GET app:probe on a NEW connection (app may not PING): 'OK' or the error's first word. */
async function appLogin(password: string): Promise<string> {
  let client: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    client = await connect(redis(), password, 'app');
    await client.get('app:probe');
    return 'OK';
  } catch (err) {
    return (err as Error).message.split(' ')[0] ?? 'error';
  } finally {
    if (client?.isOpen) client.destroy();
  }
}

const adminInEnv = async (dir: string) =>
  envValues((await readEnvFile(path.join(dir, '.env'))).doc).get(ADMIN_KEY);

const envText = (dir: string) => fs.readFile(path.join(dir, '.env'), 'utf8');
const newPassword = async (dir: string) =>
  envValues((await readEnvFile(path.join(dir, '.env'))).doc).get('REDIS_PASSWORD') ?? '';

describe('redis: a least-privileged app user rotated through the admin connection (aclfile)', () => {
  it('the app user cannot read its own ACL (what makes the admin connection necessary)', async () => {
    const old = canary('old');
    await resetApp(old);
    const app = await connect(redis(), old, 'app');
    await expect(app.sendCommand(['ACL', 'GETUSER', 'app'])).rejects.toThrow(/NOPERM/);
    app.destroy();
  });

  it.each(['scheduled', 'compromise'] as const)(
    '%s: new password through the admin, rules byte-identical, saved, right after a restart',
    async (trigger) => {
      const old = canary('old');
      await resetApp(old);
      const rulesBefore = await appRules();
      const lineBefore = await aclFileLine();
      const dir = await stackDir(old);
      const { deps, targets } = await engine(dir);
      // The app's pool, authenticated with the old password before the rotation.
      const pool = await connect(redis(), old, 'app');
      await pool.set('app:k', 'v');

      const result = await rotate(deps, { trigger });
      expect(result.outcome).toBe('rotated');
      const next = await newPassword(dir);
      expect(next).not.toBe(old);
      expect(await appLogin(next)).toBe('OK');
      expect(await appLogin(old)).toBe('WRONGPASS');
      expect(await appRules()).toEqual(rulesBefore);
      expect(await aclFileLine()).toBe(lineBefore);
      const saved = await fs.readFile(redis().aclFile ?? '', 'utf8');
      expect(saved).toContain(`user app `);
      expect(saved).not.toContain(next);

      const poolAlive = await pool.get('app:k').then(
        () => true,
        () => false,
      );
      if (trigger === 'compromise') {
        record({
          kind: 'eviction',
          suite: 'redis target in process (aclfile, least-privileged app user)',
          service: 'Redis (admin connection)',
          foothold: 'connection of the app user opened with the old password',
          result: 'removed',
          ok: !poolAlive,
        });
        expect(poolAlive).toBe(false);
        const report = targets[0]?.evictions?.() ?? [];
        expect(report.map((f) => [f.foothold, f.status])).toEqual([
          ['passwords', 'removed'],
          ['connections', 'removed'],
          ['users', 'clean'],
        ]);
        expect(report[1]?.text).toMatch(/^1 connection of user app .*rekey works as admin user default/);
      } else {
        expect(poolAlive).toBe(true);
      }
      if (pool.isOpen) pool.destroy();

      await redis().restart();
      expect(await appLogin(next)).toBe('OK');
      expect(await appLogin(old)).toBe('WRONGPASS');
      expect(await appRules()).toEqual(rulesBefore);
      // The admin password was read, never rotated.
      expect(await login(redis(), adminPw)).toBe('PONG');
      expect(await adminInEnv(dir)).toBe(adminPw);
    },
  );

  it('without `admin`: preflight stops saying to configure it (the target: ERR_TARGET_PRIVILEGE), nothing changes', async () => {
    const old = canary('old');
    await resetApp(old);
    const rulesBefore = await appRules();
    const aclBefore = await fs.readFile(redis().aclFile ?? '', 'utf8');
    const dir = await stackDir(old, { admin: false });
    const envBefore = await envText(dir);
    const { deps } = await engine(dir);
    const err = await rotate(deps, { trigger: 'scheduled' }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RekeyError);
    const e = err as RekeyError;
    // The engine's preflight error carries the target's one line: what is wrong, and what to do.
    expect(e.code).toBe('ERR_PREFLIGHT');
    expect(e.message).toMatch(
      /user app may not read or change ACLs \(NOPERM .*'acl\|getuser'.*\): configure `admin` for REDIS_PASSWORD to rotate it/,
    );
    expect(e.message).not.toContain('\n');
    // The target's own error says it in full (what `rekey plan` shows).
    const t = (await engine(dir)).targets[0];
    const own = await t
      ?.checkCurrent({ trigger: 'scheduled', log: silentLogger }, { REDIS_PASSWORD: old })
      .then(
        () => undefined,
        (x: unknown) => x as RekeyError,
      );
    expect(own?.code).toBe('ERR_TARGET_PRIVILEGE');
    expect(own?.hint).toMatch(/^Configure `admin: \{ user, passwordKey \}` for REDIS_PASSWORD in rekey.yaml/);
    expect(await envText(dir)).toBe(envBefore);
    expect(await fs.readFile(redis().aclFile ?? '', 'utf8')).toBe(aclBefore);
    expect(await appRules()).toEqual(rulesBefore);
    expect(await appLogin(old)).toBe('OK');
  });

  it.each([
    ['missing', ''],
    ['rejected', 'notTheAdminPassword123'],
  ])('admin password %s: a clear error before anything changes', async (what, adminValue) => {
    const old = canary('old');
    await resetApp(old);
    const aclBefore = await fs.readFile(redis().aclFile ?? '', 'utf8');
    const dir = await stackDir(old, { adminValue });
    const envBefore = await envText(dir);
    const { deps } = await engine(dir);
    const err = await rotate(deps, { trigger: 'scheduled' }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RekeyError);
    const e = err as RekeyError;
    if (what === 'missing') {
      expect(e.code).toBe('ERR_ENVFILE_MISSING_KEY');
      expect(e.message).toContain(`${ADMIN_KEY} (the admin password for REDIS_PASSWORD) is missing`);
    } else {
      expect(e.code).toBe('ERR_TARGET_AUTH');
      expect(e.message).toMatch(/as admin user default with REDIS_ADMIN_PASSWORD\): WRONGPASS/);
      expect(e.message).not.toContain(adminValue);
    }
    expect(await envText(dir)).toBe(envBefore);
    expect(await fs.readFile(redis().aclFile ?? '', 'utf8')).toBe(aclBefore);
    expect(await appLogin(old)).toBe('OK');
  });

  it('the admin password is registered as a secret (redacted, refused as a reference in the config), not owned', async () => {
    const dir = await stackDir(canary('old'));
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    const s = loaded.config.secrets[0];
    if (s?.type !== 'redis') throw new Error('expected a redis secret');
    expect(secretKeysOf(s)).toEqual(['REDIS_PASSWORD', ADMIN_KEY]);
    const t = redisTarget(s, { env: new Map(), configDir: dir });
    expect(t.keys).toEqual(['REDIS_PASSWORD']); // never written
    expect(t.secretKeys).toEqual(['REDIS_PASSWORD', ADMIN_KEY]);
    await fs.appendFile(
      path.join(dir, 'rekey.yaml'),
      `\nverify: [{ name: x, http: "http://127.0.0.1:9/?p=\${${ADMIN_KEY}}" }]\n`,
    );
    await expect(loadConfig(path.join(dir, 'rekey.yaml'))).rejects.toThrow(/would copy a managed secret/);
  });

  it('admin.user must not be the rotated user', async () => {
    const dir = await stackDir(canary('old'));
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    const s = loaded.config.secrets[0];
    if (s?.type !== 'redis') throw new Error('expected a redis secret');
    expect(() =>
      redisTarget(
        { ...s, admin: { user: 'app', passwordKey: ADMIN_KEY } },
        { env: new Map(), configDir: dir },
      ),
    ).toThrow(/`admin.user` is the rotated user app/);
  });

  it('the admin password never appears in output or files (built CLI: plan, rotate, verify, compromise)', {
    timeout: 180_000,
  }, async () => {
    const old = canary('old');
    await resetApp(old);
    const dir = await stackDir(old);
    const outputs: string[] = [];
    for (const args of [
      ['plan'],
      ['plan', '--json', '--trigger', 'compromise'],
      ['rotate', '--yes', '--verbose'],
      ['rotate', '--yes', '--json', '--trigger', 'compromise'],
      ['verify', '--verbose'],
      ['verify', '--json'],
    ]) {
      const { done } = startCli(args, dir, { ...process.env, NO_COLOR: '1' });
      const r = await done;
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    const files: string[] = [];
    const walk = async (d: string) => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else files.push(p);
      }
    };
    await walk(dir);
    await walk(redis().dir);
    // The env file (and its backups) hold it by design; everything else must not.
    const stored = await Promise.all(
      files
        .filter((f) => !/\/\.env(\.backup-.*)?$/.test(f) && !/\.env\..*backup/.test(path.basename(f)))
        .map(async (f) => [f, await fs.readFile(f, 'utf8')] as const),
    );
    record({
      kind: 'canary',
      suite: 'redis admin connection (built CLI)',
      scope:
        'the admin password: stdout, stderr, state dir, Redis dir (aclfile, config, log); every encoded form',
      values: 1,
      places: outputs.length + stored.length,
      occurrences: leakOccurrences([adminPw], [...outputs, ...stored.map(([, t]) => t)]),
    });
    expect(findLeak([adminPw], outputs)).toBeUndefined();
    for (const [f, text] of stored) expect(findLeak([adminPw], [text]), `found in ${f}`).toBeUndefined();
    expect(await adminInEnv(dir)).toBe(adminPw);
    expect(await login(redis(), adminPw)).toBe('PONG');
  });
});
