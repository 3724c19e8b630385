/** lib/redis.ts: the one place a Redis endpoint is built from a `type: redis` secret's settings. */
import { describe, expect, it } from 'vitest';
import { redisEndpoint, where } from '../../src/lib/redis.js';

describe('redisEndpoint', () => {
  const secret = {
    key: 'REDIS_PASSWORD',
    host: '127.0.0.1',
    port: 6390,
    user: 'app',
    tls: false,
    type: 'redis',
  };

  it('takes host, port, user, TLS and key from the secret, nothing else', () => {
    expect(redisEndpoint(secret)).toEqual({
      host: '127.0.0.1',
      port: 6390,
      user: 'app',
      tls: false,
      key: 'REDIS_PASSWORD',
    });
    expect(where(redisEndpoint(secret))).toBe('Redis 127.0.0.1:6390');
  });

  it('connects as another ACL user of the same server when one is named (the admin login)', () => {
    expect(redisEndpoint(secret, 'default')).toMatchObject({
      host: '127.0.0.1',
      port: 6390,
      user: 'default',
    });
  });
});
