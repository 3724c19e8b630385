import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_PREFIX,
  editEnv,
  encodeValue,
  envValues,
  parseEnv,
  readAnnotation,
} from '../../src/envfile/index.js';
import { rekeyError } from './helpers.js';

const WHEN = new Date('2026-11-25T10:00:00.456Z');
const LINE = '# LastSecretRotation: 2026-11-25T10:00:00Z';

function edit(text: string, changes: Parameters<typeof editEnv>[1], annotation?: Date): string {
  return editEnv(parseEnv(text), changes, annotation === undefined ? {} : { annotation });
}

describe('encodeValue', () => {
  it.each([
    ['Zx9_-.:/+@%,', undefined, 'Zx9_-.:/+@%,'],
    ['', undefined, ''],
    ['a b', undefined, "'a b'"],
    ['a#b', undefined, "'a#b'"],
    ['a=b', undefined, "'a=b'"],
    ['$HOME', undefined, "'$HOME'"],
    ['back\\slash', undefined, "'back\\slash'"],
    ['ends\\', undefined, '"ends\\\\"'],
    ["it's", undefined, '"it\'s"'],
    ['two\nlines', undefined, '"two\\nlines"'],
    ['cr\rtab\t"q"\\', undefined, '"cr\\rtab\\t\\"q\\"\\\\"'],
    ["'$x'", undefined, '"\'$x\'"'],
    ['héllo', undefined, "'héllo'"],
    ['plain', "'", "'plain'"],
    ['plain', '"', '"plain"'],
    ['plain', '`', 'plain'],
    ['a b', '', "'a b'"],
    ["it's", "'", '"it\'s"'],
    ['$x', '"', "'$x'"],
    ['', '"', '""'],
  ] as const)('%j (preferred %j) -> %s', (value, preferred, token) => {
    expect(encodeValue(value, preferred)).toBe(token);
    expect(parseEnv(`K=${token}`).entries[0]?.value).toBe(value);
  });
});

describe('editEnv: values', () => {
  it('returns the text unchanged when nothing changes', () => {
    const text = '\uFEFF# c\r\nA="1" # x\r\nB=2';
    expect(edit(text, [])).toBe(text);
    expect(edit(text, [{ key: 'A', value: '1' }])).toBe(text);
  });

  it('rewrites only the value token, keeping the quote style when it fits', () => {
    const text = 'export A = "old" # keep me\nB=\'old\'   \nC=old\n';
    expect(
      edit(text, [
        { key: 'A', value: 'new1' },
        { key: 'B', value: 'new2' },
        { key: 'C', value: 'new3' },
      ]),
    ).toBe('export A = "new1" # keep me\nB=\'new2\'   \nC=new3\n');
  });

  it('changes the quote style when the value does not fit the old one', () => {
    const text = 'A=old\nB=\'old\'\nC="old"\n';
    expect(
      edit(text, [
        { key: 'A', value: 'has space' },
        { key: 'B', value: "it's" },
        { key: 'C', value: '$dollar' },
      ]),
    ).toBe("A='has space'\nB=\"it's\"\nC='$dollar'\n");
  });

  it('never writes backticks (compose would keep them in the value)', () => {
    expect(edit('A=`old`\n', [{ key: 'A', value: 'new' }])).toBe('A=new\n');
  });

  it('quotes a bare value that a comment right after it would swallow', () => {
    expect(edit('A="old"#c\n', [{ key: 'A', value: 'new' }])).toBe('A="new"#c\n');
    expect(edit("A='old'\t# c\n", [{ key: 'A', value: 'new' }])).toBe("A='new'\t# c\n");
    expect(edit('A="old"\t#c\n', [{ key: 'A', value: 'new' }])).toBe('A="new"\t#c\n');
    expect(edit('A="old" # c\n', [{ key: 'A', value: 'new' }])).toBe('A="new" # c\n');
  });

  it('quotes an empty value followed by a comment', () => {
    // `A= # c` is the value "# c" for compose, so an empty value needs quotes there.
    expect(edit('A=old # c\n', [{ key: 'A', value: '' }])).toBe("A='' # c\n");
    expect(edit('A=old   \n', [{ key: 'A', value: '' }])).toBe('A=   \n');
    expect(edit('A=\n', [{ key: 'A', value: 'x' }])).toBe('A=x\n');
    expect(edit('A=\r\n', [{ key: 'A', value: 'x' }])).toBe('A=x\r\n');
  });

  it('rewrites a whole multi-line value', () => {
    const text = 'A=1\nKEY="-----BEGIN\nabc\n-----END"\nB=2\n';
    expect(edit(text, [{ key: 'KEY', value: 'single' }])).toBe('A=1\nKEY="single"\nB=2\n');
    expect(edit('A=x\n', [{ key: 'A', value: 'l1\nl2' }])).toBe('A="l1\\nl2"\n');
  });

  it('refuses to change a key set twice, naming both lines', () => {
    const err = rekeyError(
      () => edit('A=1\nB=2\nA=3\n', [{ key: 'A', value: 'x' }]),
      'ERR_ENVFILE_DUPLICATE',
    );
    expect(err.message).toBe('env file: A is set more than once (lines 1 and 3)');
    // A duplicate that is not changed is left alone.
    expect(edit('A=1\nB=2\nA=3\n', [{ key: 'B', value: 'x' }])).toBe('A=1\nB=x\nA=3\n');
  });

  it('refuses a value with a lone surrogate (it has no UTF-8 form), naming only the key', () => {
    const err = rekeyError(() => edit('A=1\n', [{ key: 'A', value: 'ab\ud800cd' }]), 'ERR_INTERNAL');
    expect(err.message).toBe('editEnv: the value for A is not valid Unicode');
    expect(edit('A=1\n', [{ key: 'A', value: '🔑' }])).toBe("A='🔑'\n");
  });

  it('refuses invalid keys and a key changed twice', () => {
    rekeyError(() => edit('A=1\n', [{ key: 'BAD KEY', value: 'x' }]), 'ERR_INTERNAL');
    rekeyError(
      () =>
        edit('A=1\n', [
          { key: 'A', value: 'x' },
          { key: 'A', value: 'y' },
        ]),
      'ERR_INTERNAL',
    );
  });
});

describe('editEnv: new keys', () => {
  it('appends at the end of the file', () => {
    expect(edit('A=1\n', [{ key: 'N', value: 'v' }])).toBe('A=1\nN=v\n');
    expect(edit('A=1\r\n', [{ key: 'N', value: 'v w' }])).toBe("A=1\r\nN='v w'\r\n");
  });

  it('adds a line ending first when the file has none', () => {
    expect(edit('A=1', [{ key: 'N', value: 'v' }])).toBe('A=1\nN=v\n');
    expect(edit('A=1\r\nB=2', [{ key: 'N', value: 'v' }])).toBe('A=1\r\nB=2\r\nN=v\r\n');
    expect(edit('', [{ key: 'N', value: 'v' }])).toBe('N=v\n');
    expect(edit('\uFEFF', [{ key: 'N', value: 'v' }])).toBe('\uFEFFN=v\n');
  });

  it('inserts right after the `after` entry, after its whole line and multi-line value', () => {
    const text = 'A=1 # one\nM="x\ny" # m\nZ=9\n';
    expect(edit(text, [{ key: 'N', value: 'v', after: 'A' }])).toBe('A=1 # one\nN=v\nM="x\ny" # m\nZ=9\n');
    expect(edit(text, [{ key: 'N', value: 'v', after: 'M' }])).toBe('A=1 # one\nM="x\ny" # m\nN=v\nZ=9\n');
    expect(edit('A=1\nB=2', [{ key: 'N', value: 'v', after: 'B' }])).toBe('A=1\nB=2\nN=v\n');
  });

  it('appends when the `after` key is absent, and chains after keys added before', () => {
    expect(edit('A=1\n', [{ key: 'N', value: 'v', after: 'NOPE' }])).toBe('A=1\nN=v\n');
    expect(
      edit('A=1\nB=2\n', [
        { key: 'N', value: '1', after: 'A' },
        { key: 'O', value: '2', after: 'A' },
        { key: 'P', value: '3', after: 'N' },
      ]),
    ).toBe('A=1\nN=1\nP=3\nO=2\nB=2\n');
  });

  it('changes and inserts together (JWT previous slot)', () => {
    const text = '# app\nJWT_SECRET=old # rotated by rekey\nREDIS_PASSWORD=r\n';
    const out = edit(text, [
      { key: 'JWT_SECRET', value: 'new' },
      { key: 'JWT_SECRET_PREVIOUS', value: 'old', after: 'JWT_SECRET' },
    ]);
    expect(out).toBe('# app\nJWT_SECRET=new # rotated by rekey\nJWT_SECRET_PREVIOUS=old\nREDIS_PASSWORD=r\n');
  });
});

describe('editEnv: annotation', () => {
  it('adds it as the first line, after a BOM, with the file EOL', () => {
    expect(edit('A=1\n', [], WHEN)).toBe(`${LINE}\nA=1\n`);
    expect(edit('\uFEFFA=1\r\n', [], WHEN)).toBe(`\uFEFF${LINE}\r\nA=1\r\n`);
    expect(edit('', [], WHEN)).toBe(`${LINE}\n`);
  });

  it('updates every annotation line in place, whatever followed the prefix', () => {
    const text = `A=1\r\n${ANNOTATION_PREFIX} 2025-01-01T00:00:00Z by ops\r\nB=2\r\n${ANNOTATION_PREFIX}`;
    expect(edit(text, [{ key: 'B', value: '3' }], WHEN)).toBe(`A=1\r\n${LINE}\r\nB=3\r\n${LINE}`);
  });

  it('leaves a look-alike inside a quoted value or indented alone', () => {
    const text = `A="x\n${ANNOTATION_PREFIX} inside"\n  ${ANNOTATION_PREFIX} 2020-01-01\n`;
    const out = edit(text, [], WHEN);
    expect(out).toBe(`${LINE}\n${text}`);
    expect(envValues(parseEnv(out)).get('A')).toBe(`x\n${ANNOTATION_PREFIX} inside`);
  });
});

describe('readAnnotation', () => {
  const read = (text: string) => readAnnotation(parseEnv(text))?.toISOString();

  it('reads the first valid annotation line', () => {
    expect(read(`${LINE}\n`)).toBe('2026-11-25T10:00:00.000Z');
    expect(read(`${ANNOTATION_PREFIX} soon\n${ANNOTATION_PREFIX}2026-01-02\n`)).toBe(
      '2026-01-02T00:00:00.000Z',
    );
    expect(read(`\uFEFF${ANNOTATION_PREFIX} 2026-11-25T10:00:00.5+01:30\r\n`)).toBe(
      '2026-11-25T08:30:00.500Z',
    );
    expect(read(`${ANNOTATION_PREFIX} 2026-11-25 10:00\n`)).toBe('2026-11-25T10:00:00.000Z');
  });

  it('is undefined without a valid one', () => {
    expect(read('A=1\n')).toBeUndefined();
    expect(read(`${ANNOTATION_PREFIX} 2026-02-31T00:00:00Z\n`)).toBeUndefined();
    expect(read(`${ANNOTATION_PREFIX} 2026-11-25T24:00:00Z\n`)).toBeUndefined();
    expect(read(`${ANNOTATION_PREFIX} yesterday\n`)).toBeUndefined();
    expect(read(`A="\n${LINE}"\n`)).toBeUndefined();
  });

  it('reads back what editEnv wrote', () => {
    const out = edit('A=1\n', [], WHEN);
    expect(readAnnotation(parseEnv(out))?.toISOString()).toBe('2026-11-25T10:00:00.000Z');
  });
});
