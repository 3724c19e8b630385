/**
 * Driver errors → RekeyError codes, with one-line redacted messages (no server needed).
 */
import { describe, expect, it } from 'vitest';
import { RekeyError } from '../../../src/lib/errors.js';
import { redactor } from '../../../src/lib/redact.js';
import { errorCode, pgFailure } from '../../../src/targets/postgres/connect.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('pgFailure', () => {
  it.each([
    ['28P01', 'ERR_TARGET_AUTH'],
    ['28000', 'ERR_TARGET_AUTH'],
    ['42501', 'ERR_TARGET_PRIVILEGE'],
    ['ECONNREFUSED', 'ERR_TARGET_UNREACHABLE'],
    ['ETIMEDOUT', 'ERR_TARGET_UNREACHABLE'],
    ['ENOTFOUND', 'ERR_TARGET_UNREACHABLE'],
    ['57P03', 'ERR_TARGET_UNREACHABLE'],
    ['22007', 'ERR_CONFIG_INVALID'],
    ['3D000', 'ERR_TARGET_REJECTED'],
  ])('maps %s to %s', (code, expected) => {
    const e = pgFailure(withCode('boom', code), 'POSTGRES_PASSWORD', 'connect as app');
    expect(e).toBeInstanceOf(RekeyError);
    expect(e.code).toBe(expected);
    expect(e.message).toBe(`POSTGRES_PASSWORD: connect as app: boom (${code})`);
  });

  it('reads the code of an AggregateError (both address families refused) and of pg timeouts', () => {
    const agg = new AggregateError([withCode('a', 'ECONNREFUSED'), withCode('b', 'ECONNREFUSED')], 'x');
    expect(errorCode(agg)).toBe('ECONNREFUSED');
    expect(pgFailure(new Error('timeout expired'), 'K', 'connect').code).toBe('ERR_TARGET_UNREACHABLE');
    expect(pgFailure(new Error('Connection terminated unexpectedly'), 'K', 'x').code).toBe(
      'ERR_TARGET_UNREACHABLE',
    );
    expect(pgFailure(new Error('something else'), 'K', 'x').code).toBe('ERR_TARGET_REJECTED');
  });

  it('keeps a RekeyError as it is', () => {
    const original = new RekeyError('ERR_TARGET_AUTH', 'K: already mapped');
    expect(pgFailure(original, 'K', 'x')).toBe(original);
  });

  it('redacts known secrets and keeps one line', () => {
    const secret = 'pgFailureCanary8Qw4Er7TyU2iO9pA';
    redactor.add('POSTGRES_PASSWORD', secret);
    const e = pgFailure(withCode(`bad value ${secret}\nsecond line`, 'XX000'), 'POSTGRES_PASSWORD', 'x');
    expect(e.message).toBe('POSTGRES_PASSWORD: x: bad value [REDACTED:POSTGRES_PASSWORD] (XX000)');
  });
});
