/** The demo runner reads the eviction report back from the compromise rotation's transcript. */
import { describe, expect, it } from 'vitest';
import { evictionReport } from '../../demo/runner.js';
import { renderEviction } from '../../src/cli/report.js';

describe('evictionReport (demo runner)', () => {
  it('reads each service and the mark of each foothold from the rendered report', () => {
    const rendered = renderEviction([
      {
        service: 'JWT_SECRET (jwt)',
        foothold: 'passwords',
        status: 'removed',
        text: 'held only in the env file: x',
      },
      {
        service: 'Redis 127.0.0.1:7000 (REDIS_PASSWORD)',
        foothold: 'passwords',
        status: 'removed',
        text: 'a: b',
      },
      {
        service: 'Redis 127.0.0.1:7000 (REDIS_PASSWORD)',
        foothold: 'connections',
        status: 'clean',
        text: '0',
      },
      { service: 'Redis 127.0.0.1:7000 (REDIS_PASSWORD)', foothold: 'users', status: 'reported', text: 'u' },
      { service: 'app sessions', foothold: 'sessions', status: 'unchecked', text: 'could not check: y' },
    ]);
    const out = ['rotated: …', '', ...rendered, 'warning something else', ''].join('\n');
    const report = evictionReport(out);
    expect([...(report?.keys() ?? [])]).toEqual([
      'JWT_SECRET (jwt)',
      'Redis 127.0.0.1:7000 (REDIS_PASSWORD)',
      'app sessions',
    ]);
    expect(Object.fromEntries(report?.get('Redis 127.0.0.1:7000 (REDIS_PASSWORD)') ?? [])).toEqual({
      passwords: 'removed',
      connections: 'clean',
      users: 'FOUND, left in place',
    });
    expect(report?.get('app sessions')?.get('sessions')).toBe('NOT CHECKED');
    expect(evictionReport('rotated: …\n')).toBeUndefined();
  });
});
