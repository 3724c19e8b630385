/**
 * The Grafana stand-in's pure parts: password policy, basic-auth parsing, login limiter, CLI parsing.
 */
import { describe, expect, it } from 'vitest';
import { cookieValue, parseBasicAuth } from '../../demo/grafana/http.js';
import {
  isBlocked,
  LOGIN_ATTEMPTS_WINDOW_MS,
  recordFailure,
  resetAttempts,
} from '../../demo/grafana/limiter.js';
import { parseCli } from '../../demo/grafana/main.js';
import { checkNewPassword } from '../../demo/grafana/policy.js';
import type { LoginAttempt } from '../../demo/grafana/store.js';

describe('checkNewPassword', () => {
  it('default policy: fewer than 4 UTF-8 bytes is too short', () => {
    expect(checkNewPassword('', false)).toBe('too-short');
    expect(checkNewPassword('abc', false)).toBe('too-short');
    expect(checkNewPassword('abcd', false)).toBeUndefined();
    // Go's len() counts bytes: two 2-byte letters are 4 bytes.
    expect(checkNewPassword('éé', false)).toBeUndefined();
  });

  it('strong policy: 12+ bytes with upper, lower, number and symbol', () => {
    expect(checkNewPassword('Aa1!', true)).toBe('policy');
    expect(checkNewPassword('Aa1!Aa1!Aa1', true)).toBe('policy');
    expect(checkNewPassword('Aa1!Aa1!Aa1!', true)).toBeUndefined();
    expect(checkNewPassword('aaaaaaaa1!aa', true)).toBe('policy');
    expect(checkNewPassword('AAAAAAAA1!AA', true)).toBe('policy');
    expect(checkNewPassword('AAAAaaaa!!AA', true)).toBe('policy');
    expect(checkNewPassword('AAAAaaaa11AA', true)).toBe('policy');
    // A space is a symbol (neither letter nor number), as in Go's unicode checks.
    expect(checkNewPassword('Correct Horse 7', true)).toBeUndefined();
  });
});

describe('parseBasicAuth', () => {
  const encode = (s: string) => Buffer.from(s).toString('base64');

  it('parses like Go: scheme case-insensitive, first colon splits', () => {
    expect(parseBasicAuth(`Basic ${encode('admin:pa:ss')}`)).toEqual({
      username: 'admin',
      password: 'pa:ss',
    });
    expect(parseBasicAuth(`basic ${encode('admin:')}`)).toEqual({ username: 'admin', password: '' });
  });

  it('rejects what Go rejects', () => {
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth(`Bearer ${encode('admin:x')}`)).toBeUndefined();
    expect(parseBasicAuth(`Basic ${encode('no-colon')}`)).toBeUndefined();
    expect(parseBasicAuth('Basic YWRtaW46eA')).toBeUndefined(); // missing padding
    expect(parseBasicAuth('Basic ****')).toBeUndefined();
  });

  it('finds a cookie among others', () => {
    expect(cookieValue('a=1; grafana_session=abc; b=2', 'grafana_session')).toBe('abc');
    expect(cookieValue('a=1', 'grafana_session')).toBeUndefined();
  });
});

describe('limiter', () => {
  it('blocks at 5 rows in the window and forgets rows past the cleanup age', () => {
    let attempts: LoginAttempt[] = [];
    for (let i = 0; i < 4; i += 1) attempts = recordFailure(attempts, 'Admin', '127.0.0.1', 1000 + i);
    expect(isBlocked(attempts, 'admin', 2000)).toBe(false);
    attempts = recordFailure(attempts, 'admin', '127.0.0.1', 2000);
    expect(isBlocked(attempts, 'ADMIN', 2000)).toBe(true);
    expect(isBlocked(attempts, 'admin', 1000 + LOGIN_ATTEMPTS_WINDOW_MS + 1)).toBe(false);
    expect(isBlocked(attempts, 'admin', 2000, 6)).toBe(false);
    expect(resetAttempts(attempts, 'ADMIN')).toEqual([]);
    expect(recordFailure(attempts, 'other', '::1', 3000 + 10 * 60_000)).toHaveLength(1);
  });
});

describe('parseCli', () => {
  it('reads the port, the data file and the policy flag; the password only from the environment', () => {
    expect(
      parseCli(['--port', '3000', '--data', '/tmp/g.json', '--strong-policy'], {
        GF_SECURITY_ADMIN_PASSWORD: 'from-env',
        GF_SECURITY_ADMIN_USER: 'root',
      }),
    ).toEqual({
      host: '127.0.0.1',
      port: 3000,
      dataFile: '/tmp/g.json',
      strongPolicy: true,
      wrongOldPasswordStatus: 400,
      adminUser: 'root',
      initialPassword: 'from-env',
    });
  });

  it('leaves the initial password unset without the variable (the stand-in then uses admin)', () => {
    const options = parseCli(['--data', 'g.json'], {});
    expect(options.initialPassword).toBeUndefined();
    expect(options.port).toBe(0);
  });

  it('refuses a password on the command line, unknown options and bad values', () => {
    expect(() => parseCli(['--data', 'g.json', '--password', 'x'], {})).toThrow(/Unknown option/);
    expect(() => parseCli(['--data', 'g.json', 'x'], {})).toThrow();
    expect(() => parseCli(['--port', '3000'], {})).toThrow(/--data FILE is required/);
    expect(() => parseCli(['--data', 'g.json', '--port', 'http'], {})).toThrow(/not a port/);
    expect(() => parseCli(['--data', 'g.json', '--wrong-old-password-status', '403'], {})).toThrow(
      /400 or 401/,
    );
  });
});
