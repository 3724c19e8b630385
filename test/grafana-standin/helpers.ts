/**
 * Helpers for the Grafana stand-in tests: temp data dirs, a controllable clock, and small HTTP calls.
 */
import path from 'node:path';
import {
  type GrafanaStandIn,
  type GrafanaStandInOptions,
  startGrafanaStandIn,
} from '../../demo/grafana/standin.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';

/** A clock the test moves by hand. */
export interface FakeClock {
  now: () => number;
  advance(ms: number): void;
}

export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Tracks temp dirs and stand-ins so `cleanup` can close and remove them all. */
export class Harness {
  readonly #dirs: string[] = [];
  readonly #servers = new Set<GrafanaStandIn>();
  readonly logs: string[] = [];

  async dataFile(): Promise<string> {
    const dir = await makeOwnedDir('grafana-standin-');
    this.#dirs.push(dir);
    return path.join(dir, 'grafana.json');
  }

  async start(options: Partial<GrafanaStandInOptions> & { dataFile: string }): Promise<GrafanaStandIn> {
    const server = await startGrafanaStandIn({ log: (line) => this.logs.push(line), ...options });
    this.#servers.add(server);
    return server;
  }

  async stop(server: GrafanaStandIn): Promise<void> {
    this.#servers.delete(server);
    await server.close();
  }

  async cleanup(): Promise<void> {
    for (const server of this.#servers) await server.close();
    this.#servers.clear();
    for (const dir of this.#dirs.splice(0)) await removeOwnedDir(dir);
  }
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** A response reduced to what the tests compare. */
export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

export async function call(
  url: string,
  init: { method?: string; auth?: string; cookie?: string; json?: unknown; rawBody?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.auth !== undefined) headers.authorization = init.auth;
  if (init.cookie !== undefined) headers.cookie = init.cookie;
  let body: string | undefined = init.rawBody;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** Authenticates `GET /api/user` with basic auth. */
export function getUser(grafana: GrafanaStandIn, user: string, password: string): Promise<Answer> {
  return call(`${grafana.url}/api/user`, { auth: basic(user, password) });
}

/** `PUT /api/user/password` as the docs' curl example sends it (with `confirmNew`). */
export function changePassword(
  grafana: GrafanaStandIn,
  auth: { user: string; password: string },
  oldPassword: string,
  newPassword: string,
): Promise<Answer> {
  return call(`${grafana.url}/api/user/password`, {
    method: 'PUT',
    auth: basic(auth.user, auth.password),
    json: { oldPassword, newPassword, confirmNew: newPassword },
  });
}
