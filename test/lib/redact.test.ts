import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_NAMED_SECRET_LENGTH, Redactor } from '../../src/lib/redact.js';
import { findLeak } from '../helpers/leak-forms.js';

describe('Redactor', () => {
  it('masks every registered value, longest first, and URL-encoded forms', () => {
    const r = new Redactor();
    r.add('A', 'abcd1234');
    r.add('B', 'abcd1234XYZ');
    r.add('C', 'p@ss/word');
    expect(r.redact('x abcd1234XYZ y abcd1234 z')).toBe('x [REDACTED:B] y [REDACTED:A] z');
    expect(r.redact('postgres://u:p%40ss%2Fword@h')).toBe('postgres://u:[REDACTED:C]@h');
    expect(r.leaks('nothing here')).toBe(false);
  });

  it('ignores values too short to mask safely', () => {
    const r = new Redactor();
    r.add('E', '');
    r.add('S', 'ab');
    expect(r.size).toBe(0);
    expect(r.redact('ab')).toBe('ab');
  });

  it('escapes regular-expression characters in values', () => {
    const r = new Redactor();
    r.add('R', 'a.b*c+d?');
    expect(r.redact('a.b*c+d? aXb')).toBe('[REDACTED:R] aXb');
  });
});

describe('Redactor: encoded forms and fragments', () => {
  const secret = 'Rp7+Kx/2mQ9zLw4TnB8vYc3H';
  const r = new Redactor();
  r.add('REDIS_PASSWORD', secret);

  it('masks a prefix or any run of 8+ characters of a long secret', () => {
    expect(r.redact(`auth with ${secret.slice(0, 9)}… failed`)).toBe(
      'auth with [REDACTED:REDIS_PASSWORD]… failed',
    );
    expect(r.redact(`x${secret.slice(5, 13)}y`)).toBe('x[REDACTED:REDIS_PASSWORD]y');
    // Seven characters is below the window: left alone.
    expect(r.redact(`x${secret.slice(5, 12)}y`)).toBe(`x${secret.slice(5, 12)}y`);
  });

  it('masks base64 (both alphabets, padded or not, any alignment) and hex copies', () => {
    for (const prefix of ['', 'u', 'us', 'default:', 'ab:']) {
      const bytes = Buffer.from(`${prefix}${secret}`);
      for (const text of [
        bytes.toString('base64'),
        bytes.toString('base64').replace(/=+$/, ''),
        bytes.toString('base64url'),
        `Authorization: Basic ${bytes.toString('base64')}`,
        bytes.toString('hex'),
        bytes.toString('hex').toUpperCase(),
      ]) {
        const out = r.redact(text);
        expect(out).toContain('[REDACTED:REDIS_PASSWORD]');
        expect(findLeak([secret], [out])).toBeUndefined();
      }
    }
  });

  it('short secrets (4 to 15 characters) are masked whole in each form, never by fragment', () => {
    const s = new Redactor();
    s.add('PIN', 'hunter2hunt');
    expect(s.redact('pw=hunter2hunt')).toBe('pw=[REDACTED:PIN]');
    expect(s.redact(Buffer.from('hunter2hunt').toString('hex'))).toBe('[REDACTED:PIN]');
    expect(s.redact(`x${Buffer.from('hunter2hunt').toString('base64')}`)).toContain('[REDACTED:PIN]');
    expect(s.redact('hunter2hun')).toBe('hunter2hun');
  });

  it('scans a large output once, with many secrets, quickly', () => {
    const many = new Redactor();
    const secrets = Array.from({ length: 200 }, () => randomBytes(24).toString('base64url'));
    for (const [i, s] of secrets.entries()) many.add(`K${i}`, s);
    const text = `${'ordinary deploy output line, nothing to see here 0123456789\n'.repeat(40_000)}${secrets[150]}\n`;
    const t0 = performance.now();
    const out = many.redact(text);
    const ms = performance.now() - t0;
    expect(out.endsWith('[REDACTED:K150]\n')).toBe(true);
    expect(out.length).toBe(text.length - secrets[150]!.length + '[REDACTED:K150]'.length);
    expect(ms).toBeLessThan(3000);
  });
});

describe('Redactor.addEnv: secrets, not settings', () => {
  it('masks managed keys and keys that name a secret, not hosts, ports or short settings', () => {
    const r = new Redactor();
    r.addEnv(
      [
        ['APP_HOST', '127.0.0.1'],
        ['APP_PORT', '45123'],
        ['POSTGRES_USER', 'bi_user_reporting'],
        ['DEMO_USER_PASSWORD', 'demo-pass-8c1f2e'],
        ['webhook_token', 'tok_live_51HqLz'],
        ['API_KEY_ENABLED', 'true'],
        ['SESSION_TOKEN_TTL', '3600'],
        ['LICENSE', 'AbCdEf123'],
      ],
      ['LICENSE'],
    );
    const line =
      'http://127.0.0.1:45123 bi_user_reporting demo-pass-8c1f2e tok_live_51HqLz true 3600 AbCdEf123';
    expect(r.redact(line)).toBe(
      'http://127.0.0.1:45123 bi_user_reporting [REDACTED:DEMO_USER_PASSWORD] [REDACTED:webhook_token] true 3600 [REDACTED:LICENSE]',
    );
    expect(MIN_NAMED_SECRET_LENGTH).toBe(8);
  });
});

// Secrets from printable ASCII (no brackets: they could spell the mask itself) and a few multi-byte characters.
const secretChar = fc.oneof(
  fc
    .integer({ min: 0x21, max: 0x7e })
    .map((c) => String.fromCharCode(c))
    .filter((c) => c !== '[' && c !== ']'),
  fc.constantFrom('é', 'ß', '€', '中', '😀'),
);
const secretArb = fc.array(secretChar, { minLength: 16, maxLength: 48 }).map((a) => a.join(''));

describe('property: no encoded form of a secret survives redaction', () => {
  it('in base64 (both alphabets, padded or not), hex (both cases), URL, JSON, or as an 8+ character piece', () => {
    fc.assert(
      fc.property(
        secretArb,
        secretArb,
        fc.uint8Array({ maxLength: 4 }),
        fc.uint8Array({ maxLength: 4 }),
        fc.constantFrom('base64', 'base64-nopad', 'base64url', 'hex', 'HEX', 'url', 'json', 'piece'),
        fc.nat(),
        fc.nat(),
        (secret, other, before, after, form, a, b) => {
          const r = new Redactor();
          r.add('OTHER', other);
          r.add('S', secret);
          const bytes = Buffer.concat([before, Buffer.from(secret), after]);
          const start = a % (secret.length - 8);
          const end = Math.min(secret.length, start + 8 + (b % (secret.length - start - 7)));
          const text = {
            base64: bytes.toString('base64'),
            'base64-nopad': bytes.toString('base64').replace(/=+$/, ''),
            base64url: bytes.toString('base64url'),
            hex: bytes.toString('hex'),
            HEX: bytes.toString('hex').toUpperCase(),
            url: `https://h/p?password=${encodeURIComponent(secret)}&x=1`,
            json: JSON.stringify({ details: [`login failed: ${secret}`] }),
            piece: `log: ${secret.slice(start, end)} (truncated)`,
          }[form];
          const out = r.redact(`before ${text} after`);
          expect(findLeak([secret], [out])).toBeUndefined();
          expect(out).toContain('[REDACTED:');
        },
      ),
      { numRuns: 500 },
    );
  });
});
