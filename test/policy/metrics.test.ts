/** The Prometheus exposition built from a report and events (pure), and the server's access rules. */
import { afterEach, describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import { buildRegistry } from '../../src/policy/metrics.js';
import {
  assertExposureAllowed,
  bearerMatches,
  isLoopback,
  type MetricsServer,
  startMetricsServer,
} from '../../src/policy/server.js';
import { computeStatus } from '../../src/policy/status.js';
import { samples } from '../helpers/exposition.js';
import { ago, event, inputs, NOW, statusConfig } from './helpers.js';

describe('buildRegistry', () => {
  it('exposes ages, limits, overdue, state, needs attention and rotation counts', async () => {
    const events = [
      event({ time: ago(95), keys: ['JWT_SECRET'], trigger: 'compromise' }),
      event({ time: ago(10), keys: ['POSTGRES_PASSWORD'] }),
      event({ time: ago(5), keys: ['REDIS_PASSWORD'], outcome: 'rolled-back' }),
      event({ time: ago(4), keys: ['REDIS_PASSWORD'], outcome: 'rolled-back' }),
      event({ time: ago(0), keys: ['REDIS_PASSWORD'], outcome: 'running' }),
    ];
    const schedule = {
      version: 1 as const,
      secrets: {
        REDIS_PASSWORD: {
          consecutiveFailures: 3,
          needsAttention: { since: ago(4).toISOString(), reason: 'x' },
        },
      },
    };
    const report = computeStatus(statusConfig(), inputs({ events, schedule }), NOW);
    const registry = buildRegistry(report, events);
    const s = samples(await registry.metrics());
    const jwt = 'stack="prod",key="JWT_SECRET",type="jwt"';
    const pg = 'stack="prod",key="POSTGRES_PASSWORD",type="postgres"';
    const redis = 'stack="prod",key="REDIS_PASSWORD",type="redis"';
    expect(s.get(`rekey_secret_age_seconds{${jwt}}`)).toBe(95 * 86400);
    expect(s.get(`rekey_secret_age_seconds{${pg}}`)).toBe(10 * 86400);
    expect(s.has(`rekey_secret_age_seconds{${redis}}`)).toBe(false); // never rotated: no age
    expect(s.get(`rekey_secret_max_age_seconds{${jwt}}`)).toBe(90 * 86400);
    expect(s.get(`rekey_secret_overdue{${jwt}}`)).toBe(1);
    expect(s.get(`rekey_secret_overdue{${pg}}`)).toBe(0);
    expect(s.get(`rekey_secret_overdue{${redis}}`)).toBe(1);
    expect(s.get(`rekey_secret_needs_attention{${redis}}`)).toBe(1);
    expect(s.get(`rekey_secret_needs_attention{${pg}}`)).toBe(0);
    expect(s.get(`rekey_schedule_consecutive_failures{${redis}}`)).toBe(3);
    expect(s.get(`rekey_secret_state{${jwt},state="overdue"}`)).toBe(1);
    expect(s.get(`rekey_secret_state{${jwt},state="ok"}`)).toBe(0);
    expect(s.get(`rekey_secret_state{${redis},state="needs-attention"}`)).toBe(1);
    expect(s.get('rekey_rotations_total{stack="prod",trigger="compromise",outcome="rotated"}')).toBe(1);
    expect(s.get('rekey_rotations_total{stack="prod",trigger="scheduled",outcome="rotated"}')).toBe(1);
    expect(s.get('rekey_rotations_total{stack="prod",trigger="scheduled",outcome="rolled-back"}')).toBe(2);
    expect(s.get('rekey_rotations_total{stack="prod",trigger="personnel",outcome="rotated"}')).toBe(0);
    // a hand rotation is recorded `manual`: its series exists from the first scrape, at 0
    expect(s.get('rekey_rotations_total{stack="prod",trigger="manual",outcome="rotated"}')).toBe(0);
    expect(s.get('rekey_last_rotation_timestamp_seconds{stack="prod",outcome="rotated"}')).toBe(
      ago(10).getTime() / 1000,
    );
    expect(s.get('rekey_last_rotation_timestamp_seconds{stack="prod",outcome="rolled-back"}')).toBe(
      ago(4).getTime() / 1000,
    );
    expect(registry.contentType).toMatch(/^text\/plain/);
  });

  it('is a fresh registry each time (nothing accumulates across scrapes)', async () => {
    const events = [event({ time: ago(1), keys: ['JWT_SECRET'] })];
    const report = computeStatus(statusConfig(), inputs({ events }), NOW);
    const key = 'rekey_rotations_total{stack="prod",trigger="scheduled",outcome="rotated"}';
    expect(samples(await buildRegistry(report, events).metrics()).get(key)).toBe(1);
    expect(samples(await buildRegistry(report, events).metrics()).get(key)).toBe(1);
  });
});

describe('exposure rules', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'example.com', '128.0.0.1'])
      expect(isLoopback(h)).toBe(false);
  });

  it('refuses a non-loopback address without a token file', () => {
    expect(() => assertExposureAllowed('127.0.0.1', undefined)).not.toThrow();
    expect(() => assertExposureAllowed('0.0.0.0', '/etc/token')).not.toThrow();
    let err: unknown;
    try {
      assertExposureAllowed('0.0.0.0', undefined);
    } catch (e) {
      err = e;
    }
    expect(isRekeyError(err, 'ERR_SERVE_UNPROTECTED')).toBe(true);
  });

  it('matches the bearer token exactly', () => {
    const token = 'a'.repeat(32);
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });
});

describe('startMetricsServer', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /metrics, 401 without the token, 404 elsewhere, 500 when collecting fails', async () => {
    let fail = false;
    const token = 't0ken-t0ken-t0ken-t0ken';
    server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      token,
      log: silentLogger,
      collect: async () => {
        if (fail) throw new Error('config broken');
        return { body: 'rekey_up 1\n', contentType: 'text/plain; version=0.0.4' };
      },
    });
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(server.url)).status).toBe(401);
    expect((await fetch(server.url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(server.url, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('rekey_up 1\n');
    expect((await fetch(server.url.replace('/metrics', '/nope'), { headers: auth })).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST', headers: auth })).status).toBe(405);
    fail = true;
    const broken = await fetch(server.url, { headers: auth });
    expect(broken.status).toBe(500);
    expect(await broken.text()).toMatch(/config broken/);
  });
});
