/**
 * Helpers for the Grafana target tests: a Grafana stand-in on a temp data file (closed and removed
 * when the test ends), the target built from a config section parsed by the real schema, and a
 * direct login probe that reports how many failed logins it cost.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import {
  type GrafanaStandIn,
  type GrafanaStandInOptions,
  startGrafanaStandIn,
} from '../../../demo/grafana/standin.js';
import { type SecretConfigOf, secretSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/lib/log.js';
import { type GrafanaTargetOptions, grafanaTarget } from '../../../src/targets/grafana/index.js';
import type { Target, TargetContext, Values } from '../../../src/targets/types.js';
import { tempDir } from '../../helpers/tmp.js';

export const KEY = 'GRAFANA_ADMIN_PASSWORD';
/** The admin password on first start (Grafana's GF_SECURITY_ADMIN_PASSWORD). */
export const FIRST = 'first-Admin-pw-1';
export const ctx: TargetContext = { trigger: 'scheduled', log: silentLogger };

export const vals = (v: string): Values => ({ [KEY]: v });

/** A stand-in on a fresh temp data file; `restart` stops it and starts another on the same file. */
export interface Fixture {
  grafana: GrafanaStandIn;
  dataFile: string;
  restart(options?: Partial<GrafanaStandInOptions>): Promise<GrafanaStandIn>;
}

export async function standIn(options: Partial<GrafanaStandInOptions> = {}): Promise<Fixture> {
  const dataFile = join(await tempDir('rekey-grafana-'), 'grafana.json');
  const start = async (more: Partial<GrafanaStandInOptions>) => {
    const server = await startGrafanaStandIn({ dataFile, initialPassword: FIRST, ...options, ...more });
    onTestFinished(() => server.close());
    return server;
  };
  const fixture: Fixture = {
    grafana: await start({}),
    dataFile,
    async restart(more = {}) {
      await fixture.grafana.close();
      fixture.grafana = await start(more);
      return fixture.grafana;
    },
  };
  return fixture;
}

/** The `type: grafana` section as rekey.yaml would give it (through the real schema, defaults applied). */
export function secretFor(url: string, extra: Record<string, unknown> = {}): SecretConfigOf<'grafana'> {
  return secretSchema.parse({ key: KEY, type: 'grafana', url, ...extra }) as SecretConfigOf<'grafana'>;
}

export function targetFor(
  url: string,
  extra: Record<string, unknown> = {},
  options: GrafanaTargetOptions = {},
): Target {
  return grafanaTarget(secretFor(url, extra), { env: new Map(), configDir: '/nonexistent' }, options);
}

/** Whether the stand-in accepts `password` for admin (GET /api/user), and the failed logins it cost. */
export async function accepts(grafana: GrafanaStandIn, password: string, user = 'admin'): Promise<boolean> {
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const res = await fetch(`${grafana.url}/api/user`, { headers: { authorization: auth } });
  await res.arrayBuffer();
  return res.status === 200;
}

/** Failed logins `fn` cost on `grafana`. */
export async function failuresDuring(grafana: GrafanaStandIn, fn: () => Promise<unknown>): Promise<number> {
  const before = grafana.stats().failedLogins;
  await fn();
  return grafana.stats().failedLogins - before;
}

/** Runs `fn`, expecting it to throw; returns the error. */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** A bare HTTP server answering with `handler` (for what the stand-in does not do); closed after the test. */
export async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
