import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/core/redact.js';

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
