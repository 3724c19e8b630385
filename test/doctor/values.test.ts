/** RK1xx: weak values, each against a stack that has the problem and one that does not. */
import { describe, expect, it } from 'vitest';
import { valuesCheck } from '../../src/doctor/checks/values.js';
import { estimateBits } from '../../src/doctor/entropy.js';
import { CONFIG, doctorStack, STRONG } from './helpers.js';

const rules = async (values: Record<string, string>, config = CONFIG) =>
  (await (await doctorStack(values, config)).check(valuesCheck)).map((f) => `${f.rule} ${f.keys?.join(',')}`);

describe('doctor: weak values', () => {
  it('finds nothing in a stack of strong, distinct values (an empty grace slot is by design)', async () => {
    expect(await rules({ ...STRONG, JWT_SECRET_PREVIOUS: '' })).toEqual([]);
  });

  it('RK101: a JWT secret shorter than its algorithm needs (config, then JWT_ALGORITHM, then HS256)', async () => {
    const forty = 'Kq2Lm7Np4Ws8Tz1Yb6Hc0Jf5Gd3Ua9Eo2Ri7Tl4N'; // 40 bytes, strong
    expect(await rules({ ...STRONG, JWT_SECRET: forty })).toEqual([]); // HS256: 32
    expect(await rules({ ...STRONG, JWT_SECRET: forty, JWT_ALGORITHM: 'HS384' })).toEqual([
      'RK101 JWT_SECRET',
    ]);
    const hs512 = CONFIG.replace('type: jwt,', 'type: jwt, algorithm: HS512,');
    expect(await rules({ ...STRONG, JWT_SECRET: STRONG.JWT_SECRET.slice(0, 60) }, hs512)).toEqual([
      'RK101 JWT_SECRET',
    ]);
  });

  it('RK102: under 128 bits of estimated entropy; RK104: empty or a known default', async () => {
    expect(await rules({ ...STRONG, REDIS_PASSWORD: 'abababababababababababababababab' })).toEqual([
      'RK102 REDIS_PASSWORD',
    ]);
    expect(await rules({ ...STRONG, API_SECRET_KEY: 'ChangeMe' })).toEqual(['RK104 API_SECRET_KEY']);
    expect(await rules({ ...STRONG, API_SECRET_KEY: '' })).toEqual(['RK104 API_SECRET_KEY']);
  });

  it('RK103: one value under two keys, but not a secret and its own grace slot', async () => {
    expect(await rules({ ...STRONG, REDIS_PASSWORD: STRONG.API_SECRET_KEY })).toEqual([
      'RK103 API_SECRET_KEY,REDIS_PASSWORD',
    ]);
    expect(await rules({ ...STRONG, JWT_SECRET_PREVIOUS: STRONG.JWT_SECRET })).toEqual([]);
  });

  it('estimates random values by their alphabet and repetitive ones by their distribution', () => {
    expect(
      estimateBits('0123456789abcdef0123456789abcdef'.split('').reverse().join('')),
    ).toBeGreaterThanOrEqual(128);
    expect(estimateBits('a'.repeat(64))).toBe(0);
    expect(estimateBits('password123')).toBeLessThan(64);
    expect(estimateBits(STRONG.JWT_SECRET)).toBeGreaterThan(300);
  });
});
