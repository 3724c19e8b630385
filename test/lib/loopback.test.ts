import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/lib/loopback.js';

describe('isLoopback (plain http is allowed only to these)', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.8.9.10', '::1', '[::1]'])('%s is this machine', (h) =>
    expect(isLoopback(h)).toBe(true),
  );
  it.each([
    'vault.internal',
    '10.0.0.1',
    '0.0.0.0',
    '127.0.0.1.nip.io',
    'localhost.evil.com',
    '::ffff:7f00:1',
    '',
  ])('%s is not', (h) => expect(isLoopback(h)).toBe(false));
});
