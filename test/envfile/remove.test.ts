/** removeKeys: the entries' whole lines go, every other byte stays; the result is checked by parsing it again. */
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/envfile/parse.js';
import { removeKeys } from '../../src/envfile/remove.js';

describe('removeKeys', () => {
  it('removes single-line, quoted, exported and multi-line entries with their inline comments', () => {
    const text = [
      '# app env',
      'A=1',
      'JWT_SECRET=abc # the signing key',
      'export API_KEY="x y"',
      "CERT='line one",
      "line two'",
      'B="keep # me"',
      'C=3',
      '',
    ].join('\n');
    expect(removeKeys(parseEnv(text), ['JWT_SECRET', 'API_KEY', 'CERT'])).toBe(
      '# app env\nA=1\nB="keep # me"\nC=3\n',
    );
  });

  it('keeps CRLF line endings, a last line without a newline, and removes a key set twice', () => {
    const text = 'A=1\r\nK=v1\r\nB=2\r\nK=v2';
    expect(removeKeys(parseEnv(text), ['K'])).toBe('A=1\r\nB=2\r\n');
  });

  it('returns the text unchanged when none of the keys is there', () => {
    const text = 'A=1\n# K=commented out\n';
    expect(removeKeys(parseEnv(text), ['K'])).toBe(text);
  });
});
