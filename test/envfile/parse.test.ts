import { describe, expect, it } from 'vitest';
import { assertUnique, envValues, parseEnv } from '../../src/envfile/index.js';
import { rekeyError, summary } from './helpers.js';

/** What compose would interpolate; rekey keeps it as written. */
const INTERPOLATION = '$HOME $' + '{X}';

/** The single entry of a one-statement text. */
function one(text: string) {
  const doc = parseEnv(text);
  expect(doc.entries).toHaveLength(1);
  const e = doc.entries[0]!;
  return { ...e, token: text.slice(e.valueStart, e.valueEnd) };
}

describe('parseEnv: statements', () => {
  it('reads KEY=value with exact offsets', () => {
    const doc = parseEnv('KEY=value\n');
    expect(doc.entries).toEqual([
      { key: 'KEY', value: 'value', line: 1, valueStart: 4, valueEnd: 9, quote: '' },
    ]);
    expect(doc).toMatchObject({ eol: '\n', bom: false, text: 'KEY=value\n' });
  });

  it.each([
    ['export KEY=v', 'KEY', 'v'],
    ['export\tKEY=v', 'KEY', 'v'],
    ['  export   KEY = v', 'KEY', 'v'],
    ['exportFOO=1', 'exportFOO', '1'],
    ['export=1', 'export', '1'],
    ['export =1', 'export', '1'],
    ['export_FOO =2', 'export_FOO', '2'],
    ['KEY = value', 'KEY', 'value'],
    ['KEY\t=\tvalue  \t', 'KEY', 'value'],
    ['   KEY=value', 'KEY', 'value'],
    ['a.b-c[0]=x', 'a.b-c[0]', 'x'],
    ['ÁRVÍZTŰRŐ_tükör=ok', 'ÁRVÍZTŰRŐ_tükör', 'ok'],
    ['9LIVES=1', '9LIVES', '1'],
  ])('key of %j', (text, key, value) => {
    const e = one(text);
    expect([e.key, e.value, e.token]).toEqual([key, value, value]);
  });

  it('reads empty values, with the token where the value goes', () => {
    expect(one('KEY=')).toMatchObject({ value: '', valueStart: 4, valueEnd: 4, quote: '' });
    expect(one('KEY=   \n')).toMatchObject({ value: '', valueStart: 7, valueEnd: 7 });
    // The CR of a CRLF is left to the line, so an edit never lands between CR and LF.
    expect(one('KEY=\r\n')).toMatchObject({ value: '', valueStart: 4, valueEnd: 4 });
    expect(one('KEY= \r\n')).toMatchObject({ value: '', valueStart: 5, valueEnd: 5 });
    expect(one("KEY=''")).toMatchObject({ value: '', valueStart: 4, valueEnd: 6, quote: "'" });
    expect(one('KEY=""')).toMatchObject({ value: '', valueStart: 4, valueEnd: 6, quote: '"' });
  });

  it('keeps = inside values', () => {
    expect(one('K=a=b==').value).toBe('a=b==');
    expect(one('K==').value).toBe('=');
    expect(one('URL=postgres://u@h:5432/db?sslmode=disable').value).toBe(
      'postgres://u@h:5432/db?sslmode=disable',
    );
  });
});

describe('parseEnv: comments (compose rules)', () => {
  it.each([
    ['K=a #c', 'a', 'a'],
    ['K=a # c # d', 'a', 'a'],
    ['K=a   # c', 'a', 'a'],
    ['K=a#b', 'a#b', 'a#b'],
    ['K=a\t#b', 'a\t#b', 'a\t#b'], // compose cuts at a space then #, not at a tab
    ['K=#x', '#x', '#x'],
    ['K= # note', '# note', '# note'], // compose: leading blanks go first, then there is no " #"
    ['K=a b c  ', 'a b c', 'a b c'],
    ['K="a # b" # c', 'a # b', '"a # b"'],
    ['K="x"#c', 'x', '"x"'],
    ["K='x'\t# c", 'x', "'x'"],
    ["K='#'", '#', "'#'"],
    ['K="x"   ', 'x', '"x"'],
  ])('%j', (text, value, token) => {
    const e = one(text);
    expect([e.value, e.token]).toEqual([value, token]);
  });

  it('skips blank lines and comment lines, counting lines', () => {
    const doc = parseEnv('\n\n  # comment = x\n\t\n# K=2\nK=1\n   #K=3\n');
    expect(doc.entries.map((e) => [e.key, e.value, e.line])).toEqual([['K', '1', 6]]);
  });

  it('reads a file of only comments and blanks as empty', () => {
    expect(parseEnv('# a\n\n   \n# b').entries).toEqual([]);
    expect(parseEnv('').entries).toEqual([]);
    expect(parseEnv('\uFEFF').entries).toEqual([]);
  });
});

describe('parseEnv: quotes', () => {
  it("single quotes are literal except \\'", () => {
    expect(one("K='a b # c'")).toMatchObject({ value: 'a b # c', quote: "'" });
    expect(one("K='it\\'s'").value).toBe("it's");
    expect(one("K='a\\nb'").value).toBe('a\\nb');
    expect(one("K='a\\\\b'").value).toBe('a\\\\b');
    expect(one(`K='${INTERPOLATION}'`).value).toBe(INTERPOLATION);
    expect(one("K='\"'").value).toBe('"');
  });

  it('double quotes decode the escapes compose decodes', () => {
    expect(one('K="a\\nb\\tc\\"d\\"\\\\e\\rf"').value).toBe('a\nb\tc"d"\\e\rf');
    expect(one('K="\\a\\b\\f\\v"').value).toBe('\x07\b\f\v');
    expect(one('K="\\0101\\0"').value).toBe('A\\');
    expect(one('K="\\0777|\\012|\\0089"').value).toBe('\\777|\\12|\\089');
    expect(one('K="\\x41\\c\\q\\\'"').value).toBe("\\x41\\c\\q\\'");
    expect(one('K="\\$HOME"').value).toBe('$$HOME');
    expect(one(`K="${INTERPOLATION}"`).value).toBe(INTERPOLATION);
    expect(one('K="\'"').value).toBe("'");
    expect(one('K="a\\\\"').value).toBe('a\\');
  });

  it('reads multi-line quoted values, counting their lines', () => {
    const doc = parseEnv('A="line1\nline2\\n\nline3"\nB=\'x\ny\'\nC=3\n');
    expect(summary(doc)).toEqual([
      ['A', 'line1\nline2\n\nline3', '"line1\nline2\\n\nline3"'],
      ['B', 'x\ny', "'x\ny'"],
      ['C', '3', '3'],
    ]);
    expect(doc.entries.map((e) => e.line)).toEqual([1, 4, 6]);
  });

  it('keeps the CRLF inside a multi-line value of a CRLF file (compose does)', () => {
    expect(one('A="x\r\ny"\r\n').value).toBe('x\r\ny');
  });

  it('backticks are not quotes: the value keeps them, quote reports them', () => {
    expect(one('K=`abc`')).toMatchObject({ value: '`abc`', quote: '`' });
    expect(one('K=`a b` # c')).toMatchObject({ value: '`a b`', quote: '`' });
    expect(one('K=`a #b`')).toMatchObject({ value: '`a', quote: '' });
    expect(one('K=`')).toMatchObject({ value: '`', quote: '' });
  });
});

describe('parseEnv: line endings, BOM, whitespace', () => {
  it('reads CRLF files and reports their EOL', () => {
    const doc = parseEnv('A=1\r\nB="2"\r\n# c\r\nC=3 # x\r\nD=\'4\' \r\n');
    expect(summary(doc)).toEqual([
      ['A', '1', '1'],
      ['B', '2', '"2"'],
      ['C', '3', '3'],
      ['D', '4', "'4'"],
    ]);
    expect(doc.eol).toBe('\r\n');
    expect(doc.entries.map((e) => e.line)).toEqual([1, 2, 4, 5]);
  });

  it('takes the EOL from the first line ending', () => {
    expect(parseEnv('A=1').eol).toBe('\n');
    expect(parseEnv('A=1\nB=2\r\n').eol).toBe('\n');
    expect(parseEnv('# x\r\nA=1\n').eol).toBe('\r\n');
    // Line breaks inside a multi-line value (a pasted certificate) do not count.
    expect(parseEnv('CERT="a\r\nb"\nB=1\n').eol).toBe('\n');
    expect(parseEnv("CERT='a\nb' # c\r\nB=1\r\n").eol).toBe('\r\n');
    expect(parseEnv('A="\r\n"').eol).toBe('\n');
  });

  it('skips a UTF-8 BOM, keeping offsets in the full text', () => {
    const doc = parseEnv('\uFEFFA=1\n');
    expect(doc.bom).toBe(true);
    expect(doc.entries).toEqual([{ key: 'A', value: '1', line: 1, valueStart: 3, valueEnd: 4, quote: '' }]);
  });

  it('reads a last line without a newline', () => {
    expect(summary(parseEnv('A=1\nB="2"'))).toEqual([
      ['A', '1', '1'],
      ['B', '2', '"2"'],
    ]);
    expect(summary(parseEnv('A=1\nB=2 # c'))).toEqual([
      ['A', '1', '1'],
      ['B', '2', '2'],
    ]);
  });

  it('treats a lone CR as whitespace, not as a line break (compose)', () => {
    expect(one('A=x\ry\n').value).toBe('x\ry');
    expect(one('A=x \r\n').value).toBe('x');
  });

  it('reads unicode and very long values', () => {
    expect(one('GREETING=héllo wörld 🌍 日本').value).toBe('héllo wörld 🌍 日本');
    const long = 'x'.repeat(200_000);
    expect(one(`K="${long}"`).value).toBe(long);
  });

  it('lets the last of duplicate keys win', () => {
    const doc = parseEnv('A=1\nB=2\nA=3\n');
    expect(doc.entries).toHaveLength(3);
    expect([...envValues(doc)]).toEqual([
      ['A', '3'],
      ['B', '2'],
    ]);
  });
});

describe('parseEnv: errors', () => {
  const SECRET = 'hunter2SECRET';
  it.each([
    [`A=1\nB="${SECRET}\nC=2\n`, 2, 'unterminated double quote'],
    [`A='${SECRET}`, 1, 'unterminated single quote'],
    [`A="x\\"${SECRET}`, 1, 'unterminated double quote'],
    [`A=1\n${SECRET}\n`, 2, "no '='"],
    [`A=1\n  export ${SECRET}`, 2, "no '='"],
    [`${SECRET}:1\n`, 1, "expected '=' after the key"],
    [`A=1\n\nKEY ${SECRET}=1\n`, 3, 'a key cannot contain a space'],
    [`A$${SECRET}=1`, 1, 'invalid character in the key'],
    [`"${SECRET}"=1`, 1, 'invalid character in the key'],
    [`=${SECRET}`, 1, "no key before '='"],
    [`A="x" ${SECRET}`, 1, 'unexpected text after the closing quote'],
    [`A='x'${SECRET}`, 1, 'unexpected text after the closing quote'],
    [`A="x\n${SECRET}" y`, 2, 'unexpected text after the closing quote'],
    [`A="${SECRET}\nB="c"\n`, 2, 'unexpected text after the closing quote'],
    [`A=1\nB=\`${SECRET}\nrest\`\n`, 3, 'invalid character in the key'],
  ])('%j fails on line %i', (text, line, reason) => {
    const err = rekeyError(() => parseEnv(text, '.env.production'), 'ERR_ENVFILE_PARSE');
    expect(err.message).toBe(`.env.production line ${line}: ${err.message.split(': ').slice(1).join(': ')}`);
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain(SECRET.slice(0, 6));
    expect(err.message).not.toContain('\n');
  });

  it('names the default source', () => {
    expect(rekeyError(() => parseEnv('A="x'), 'ERR_ENVFILE_PARSE').message).toBe(
      'env file line 1: unterminated double quote',
    );
  });
});

describe('assertUnique', () => {
  const doc = parseEnv('A=secret1\nB=2\nA=secret2\nC=1\nC=2\nC=3\n');

  it('names the key and both lines, never the values', () => {
    const err = rekeyError(() => assertUnique(doc, ['B', 'A'], '.env.production'), 'ERR_ENVFILE_DUPLICATE');
    expect(err.message).toBe('.env.production: A is set more than once (lines 1 and 3)');
  });

  it('lists every line of a key set three times', () => {
    const err = rekeyError(() => assertUnique(doc, new Set(['C'])), 'ERR_ENVFILE_DUPLICATE');
    expect(err.message).toBe('env file: C is set more than once (lines 4, 5 and 6)');
  });

  it('accepts keys set once or not at all', () => {
    expect(() => assertUnique(doc, ['B', 'MISSING'])).not.toThrow();
  });
});
