/**
 * RK4xx against real services: a PostgreSQL with md5 password_encryption and a role whose password
 * expired or expires soon, a clean one; a Redis on a command line only (no config file: a password
 * change cannot persist), a Redis user with nopass, a clean Redis; an unreachable service is "could
 * not check", never a crash. Nothing is changed on the servers.
 */
import pg from 'pg';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { servicesCheck } from '../../src/doctor/checks/services.js';
import { scramVerifier } from '../../src/targets/postgres/scram.js';
import { usePostgres, useRedis } from '../helpers/services.js';
import { doctorStack } from './helpers.js';

const APP_PASSWORD = 'Ap9Qx2Lk7Vb3Nm8Pz4Rt6Wc1Hd5Jf0Gs2Qa7Ue9Io3Kl8Mn4Bv6Cx1Zs5Dr0Ft';

async function admin<T>(
  server: { port: number; superuserPassword: string },
  fn: (c: pg.Client) => Promise<T>,
) {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: 'postgres',
    password: server.superuserPassword,
    database: 'postgres',
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const pgConfig = (port: number, user: string) =>
  `envFile: .env.production\nsecrets:\n  - { key: POSTGRES_PASSWORD, type: postgres, port: ${port}, user: ${user}, sslmode: disable }\n`;
const findings = async (values: Record<string, string>, config: string) =>
  (await (await doctorStack(values, config)).check(servicesCheck))
    .map((f) => `${f.rule} ${f.severity}`)
    .sort();

describe('doctor: PostgreSQL traps', () => {
  const clean = usePostgres();
  const md5 = usePostgres({ settings: { password_encryption: "'md5'" } });
  const installerDefault = usePostgres({ superuserPassword: 'postgres' });

  it('finds nothing on a scram-sha-256 server whose role has no expiry', async () => {
    await admin(clean(), (c) => c.query(`CREATE ROLE app LOGIN PASSWORD '${scramVerifier(APP_PASSWORD)}'`));
    expect(await findings({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(clean().port, 'app'))).toEqual([]);
  });

  it('RK402 high when VALID UNTIL comes within warnBefore, medium within maxAge; RK409: the role itself cannot reset it', async () => {
    const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
    await admin(clean(), (c) =>
      c.query(`CREATE ROLE soon LOGIN PASSWORD '${scramVerifier(APP_PASSWORD)}' VALID UNTIL '${soon}'`),
    );
    expect(await findings({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(clean().port, 'soon'))).toEqual([
      'RK402 high',
      'RK409 medium',
    ]);
    const later = new Date(Date.now() + 60 * 86_400_000).toISOString();
    await admin(clean(), (c) => c.query(`ALTER ROLE soon VALID UNTIL '${later}'`));
    expect(await findings({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(clean().port, 'soon'))).toEqual([
      'RK402 medium',
      'RK409 medium',
    ]);
  });

  it('RK403 when password_encryption is md5', async () => {
    await admin(md5(), (c) => c.query(`CREATE ROLE app LOGIN PASSWORD '${scramVerifier(APP_PASSWORD)}'`));
    expect(await findings({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(md5().port, 'app'))).toEqual([
      'RK403 high',
    ]);
  });

  it('RK407 when the superuser still has the installer default postgres/postgres (the app role aside)', async () => {
    await admin(installerDefault(), (c) =>
      c.query(`CREATE ROLE app LOGIN PASSWORD '${scramVerifier(APP_PASSWORD)}'`),
    );
    expect(
      await findings({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(installerDefault().port, 'app')),
    ).toEqual(['RK407 high']);
  });

  it('an unreachable server is RK901 "could not check", naming the key, no value', async () => {
    const s = await doctorStack({ POSTGRES_PASSWORD: APP_PASSWORD }, pgConfig(1, 'app'));
    const out = await s.check(servicesCheck);
    expect(out.map((f) => f.rule)).toEqual(['RK901']);
    expect(out[0]!.message).toMatch(/could not check POSTGRES_PASSWORD's service/);
    expect(JSON.stringify(out)).not.toContain(APP_PASSWORD);
  });
});

describe('doctor: Redis traps', () => {
  const config = useRedis({ mode: 'config' });
  const cmdline = useRedis({ mode: 'cmdline' });
  const redisConfig = (port: number, user = 'default') =>
    `envFile: .env.production\nsecrets:\n  - { key: REDIS_PASSWORD, type: redis, port: ${port}, user: ${user} }\n`;

  it('finds nothing on a Redis with a config file and a password', async () => {
    expect(await findings({ REDIS_PASSWORD: config().password }, redisConfig(config().port))).toEqual([]);
  });

  it('RK406 when Redis runs from its command line only', async () => {
    expect(await findings({ REDIS_PASSWORD: cmdline().password }, redisConfig(cmdline().port))).toEqual([
      'RK406 high',
    ]);
  });

  it('RK405 for a user with nopass', async () => {
    const c = createClient({
      socket: { host: '127.0.0.1', port: config().port },
      password: config().password,
    });
    await c.connect();
    try {
      await c.sendCommand(['ACL', 'SETUSER', 'lax', 'on', 'nopass', '~*', '+@all']);
    } finally {
      await c.quit();
    }
    expect(await findings({ REDIS_PASSWORD: 'anything-at-all' }, redisConfig(config().port, 'lax'))).toEqual([
      'RK405 high',
    ]);
  });
});
