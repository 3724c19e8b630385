import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import { ALPHANUMERIC, entropyBits, generate, validateSpec } from '../../src/lib/generate.js';
import { specFor } from '../../src/targets/spec.js';

describe('generation', () => {
  it('defaults: jwt 64 bytes base64url, api-key 32 bytes, passwords 32 alphanumerics', () => {
    const jwt = generate(specFor({ key: 'J', type: 'jwt' }));
    expect(Buffer.from(jwt, 'base64url')).toHaveLength(64);
    expect(jwt).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(generate(specFor({ key: 'A', type: 'api-key' })), 'base64url')).toHaveLength(32);
    const pw = generate(specFor({ key: 'P', type: 'generic' }));
    expect(pw).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it('never repeats and uses the whole alphabet', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const v = generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC });
      seen.add(v);
      for (const c of v) chars.add(c);
    }
    expect(seen.size).toBe(300);
    expect(chars.size).toBe(62);
  });

  it('refuses specs under 128 bits and unsafe alphabets', () => {
    expect(entropyBits({ kind: 'chars', length: 21, alphabet: ALPHANUMERIC })).toBeLessThan(128);
    for (const spec of [
      { kind: 'chars' as const, length: 21, alphabet: ALPHANUMERIC },
      { kind: 'bytes' as const, bytes: 15 },
      { kind: 'chars' as const, length: 200, alphabet: 'a' },
    ]) {
      try {
        validateSpec(spec, 'X');
        expect.unreachable();
      } catch (e) {
        expect(isRekeyError(e, 'ERR_SECRET_WEAK')).toBe(true);
      }
    }
    expect(() => validateSpec({ kind: 'chars', length: 40, alphabet: 'abc$def' }, 'X')).toThrow(/alphabet/);
  });

  it('everyClass yields a character of each class the alphabet has', () => {
    for (let i = 0; i < 50; i++) {
      const v = generate({
        kind: 'chars',
        length: 24,
        alphabet: `${ALPHANUMERIC}!%^&*-_+`,
        everyClass: true,
      });
      expect(v).toMatch(/[A-Z]/);
      expect(v).toMatch(/[a-z]/);
      expect(v).toMatch(/[0-9]/);
      expect(v).toMatch(/[!%^&*\-_+]/);
    }
  });
});
