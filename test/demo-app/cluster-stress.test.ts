/**
 * Stress test of the demo app's runner (the BUILT dist/demo/app/cluster.js): several rolling reloads
 * in a row under an open-loop keep-alive load of a few hundred requests per second, no retries, and
 * not one failed request. It guards the drain (server.ts): a worker that cut its idle keep-alive
 * connections when it starts draining (`http.Server#close`), exited before its connections ended, or
 * lost connections handed to it while closing fails here within a few reloads.
 *
 * The clients are configured as Node's and undici's defaults are: they honour the server's
 * `Keep-Alive: timeout=5` hint (close an idle connection after 4 s; the server's own idle timeout
 * is 6 s). A client that ignores the hint (a `new http.Agent({ keepAlive: true })` without `timeout`,
 * which Node 20 then never times out) races the server's idle close: a request sent on a connection
 * as the server closes it fails with ECONNRESET, whatever the server does (RFC 9112 §9.3.1 leaves it
 * to the client to retry); that is not what this test measures.
 */
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunnerStatus } from '../../demo/app/status.js';
import { freePort } from '../../demo/stack/ports.js';
import { sleep } from '../../demo/stack/wait.js';
import { usePostgres, useRedis } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';
import { appValues, assertBuilt, type Runner, seededDatabase, startRunner, writeEnv } from './helpers.js';

const postgres = usePostgres();
const redis = useRedis();

const RELOADS = 4;
const RATE = 400;

/** Open-loop keep-alive load (half node:http with a default-like Agent, half fetch), never retried. */
function keepAliveLoad(url: string, rate: number): { stop(): Promise<{ ok: number; failures: string[] }> } {
  // As Node 20's http.globalAgent: keepAlive, LIFO, timeout 5000 (which makes it honour the hint).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo', timeout: 5000 });
  const result = { ok: 0, failures: [] as string[] };
  const pending = new Set<Promise<void>>();
  const t0 = Date.now();
  const viaAgent = () =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(url, { agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', reject);
    });
  const viaFetch = async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  };
  let stopped = false;
  const loop = (async () => {
    for (let n = 0; !stopped; n++) {
      // Request n is due at t0 + n / rate, whatever happened to the earlier ones.
      const wait = t0 + (n * 1000) / rate - Date.now();
      await (wait > 1 ? sleep(wait) : new Promise((r) => setImmediate(r)));
      const at = ((Date.now() - t0) / 1000).toFixed(2);
      const p = (n % 2 === 0 ? viaAgent() : viaFetch()).then(
        (status) => {
          if (status === 200) result.ok++;
          else result.failures.push(`${at}s status ${status}`);
        },
        (err: Error & { code?: string; cause?: { code?: string } }) => {
          result.failures.push(`${at}s ${err.code ?? err.cause?.code ?? err.message}`);
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...pending]);
      agent.destroy();
      return result;
    },
  };
}

describe('the app runner under keep-alive load (stress)', () => {
  let runner: Runner;
  let url: string;

  beforeAll(async () => {
    assertBuilt();
    const dir = await tempDir('rekey-demo-stress-');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const envFile = path.join(dir, '.env.production');
    await writeEnv(envFile, { ...(await seededDatabase(postgres())), ...appValues(redis(), port) });
    runner = startRunner(dir, envFile, ['--workers', '2', '--ready-timeout', '20', '--drain-timeout', '10']);
    await runner.waitFor((s) => s.lastReload?.ok === true);
  });

  afterAll(async () => {
    if (runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill('SIGTERM');
      const timer = setTimeout(() => runner.child.kill('SIGKILL'), 20_000);
      await runner.exited;
      clearTimeout(timer);
    }
  });

  it(`${RELOADS} rolling reloads in a row at ${RATE} req/s: zero failed requests`, async () => {
    const load = keepAliveLoad(`${url}/api/health`, RATE);
    await sleep(1500);
    for (let i = 0; i < RELOADS; i++) {
      const sent = new Date().toISOString();
      runner.child.kill('SIGHUP');
      const after = await runner.waitFor(
        (s: RunnerStatus) => s.lastReload !== null && s.lastReload.startedAt >= sent,
        40_000,
      );
      expect(after.lastReload).toMatchObject({ ok: true, error: null });
    }
    // Until the last old worker's idle connections ended (6 s) and a little more.
    await sleep(7000);
    const result = await load.stop();
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(RATE * 10);
    const log = await runner.log();
    expect(log).not.toMatch(/SIGKILL|still in flight|died/);
  }, 180_000);
});
