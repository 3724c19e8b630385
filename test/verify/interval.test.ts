/**
 * `verifyPolicy.interval` (issue 17): the spacing between a check's two required successes comes
 * from rekey.yaml (default 250ms, chosen from `npm run bench -- settle`), measured on a real HTTP server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { runHttpCheck } from '../../src/verify/http.js';
import { timingOf } from '../../src/verify/index.js';

const hits: number[] = [];
const server = createServer((_req, res) => {
  hits.push(performance.now());
  res.end('ok');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const policy = (extra: Record<string, unknown>) =>
  configSchema.parse({ envFile: '.env', secrets: [{ key: 'JWT_SECRET', type: 'jwt' }], verifyPolicy: extra });

describe('verifyPolicy.interval', () => {
  it('defaults to 250ms (the settle benchmark) and takes a configured duration', () => {
    expect(timingOf(policy({})).intervalMs).toBe(250);
    expect(timingOf(policy({ interval: '25ms' })).intervalMs).toBe(25);
  });

  it('spaces the two successes of an HTTP check by the interval', async () => {
    const gaps: number[] = [];
    for (const interval of ['30ms', '600ms']) {
      hits.length = 0;
      const timing = timingOf(policy({ interval, successes: 2, deadline: '10s' }));
      const row = await runHttpCheck({ name: 'App Health', http: url, method: 'GET', expect: 200 }, timing);
      expect(row.ok, row.detail).toBe(true);
      expect(hits).toHaveLength(2);
      const gap = hits[1]! - hits[0]!;
      expect(gap).toBeGreaterThanOrEqual((timing.intervalMs ?? 0) - 5);
      gaps.push(gap);
    }
    expect(gaps[0]!, 'the shorter interval spaces them closer').toBeLessThan(gaps[1]! - 300);
  });
});
