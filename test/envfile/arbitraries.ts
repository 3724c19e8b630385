/**
 * fast-check generators of env files. Each generated token comes with the value compose reads from it
 * (the oracle is built piece by piece here, independently of the parser), and each entry with its
 * exact line and offsets.
 */
import fc from 'fast-check';
import type { EnvEntry } from '../../src/envfile/index.js';

/** A raw piece of a quoted value and what it decodes to. */
type Piece = [raw: string, decoded: string];

export interface GeneratedFile {
  text: string;
  /** The EOL between lines (multi-line values use it too). */
  eol: '\n' | '\r\n';
  /** What `parseEnv` must report: `eol` when a line ends outside a value, else LF. */
  docEol: '\n' | '\r\n';
  bom: boolean;
  entries: EnvEntry[];
}

type LineSpec =
  | { kind: 'blank'; ws: string }
  | { kind: 'comment'; text: string }
  | { kind: 'entry'; head: string; key: string; eq: string; value: ValueSpec; tail: string };

/** A value token, as a function of the file's EOL (multi-line values use it). */
type ValueSpec = (eol: string) => { token: string; value: string; quote: EnvEntry['quote'] };

const ws = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
/** Characters of free text: ASCII punctuation that matters to the parser, letters, unicode. */
const textChar = fc.constantFrom(
  ...'aZ09_-.:/+@%,=#$!&*()[]{}<>?;|~^`\'"\\ \t'.split(''),
  'é',
  'ß',
  '日',
  '🔑',
  '\u00a0',
);
const commentText = fc.string({ unit: textChar, maxLength: 20 });

const key = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9.\-[\]]{0,5}$/) },
  { weight: 1, arbitrary: fc.constantFrom('ÜBER_KEY', 'export', 'exportX', 'clé') },
);

const unquoted: fc.Arbitrary<ValueSpec> = fc
  .string({ unit: textChar, minLength: 1, maxLength: 24 })
  .map((s) => {
    let v = s.replace(/ #/g, ' _#').replace(/[ \t\u00a0]+$/, '');
    if (v === '' || /^[ \t\u00a0'"]/.test(v)) v = `v${v}`;
    const quote: EnvEntry['quote'] = v.length >= 2 && v.startsWith('`') && v.endsWith('`') ? '`' : '';
    return () => ({ token: v, value: v, quote });
  });

const backticked: fc.Arbitrary<ValueSpec> = fc
  .string({ unit: textChar.filter((c) => c !== '`'), maxLength: 12 })
  .map((s) => {
    const token = `\`${s.replace(/ #/g, ' _#')}\``;
    return () => ({ token, value: token, quote: '`' as const });
  });

const plainQuoted = (quote: string) =>
  textChar.filter((c) => c !== quote && c !== '\\').map((c): Piece => [c, c]);

const singlePieces: fc.Arbitrary<Piece | 'eol'> = fc.oneof(
  { weight: 10, arbitrary: plainQuoted("'") },
  { weight: 1, arbitrary: fc.constant<Piece>(["\\'", "'"]) },
  { weight: 1, arbitrary: fc.constant<Piece>(['\\\\', '\\\\']) },
  { weight: 1, arbitrary: fc.constantFrom<Piece>(['\\n', '\\n'], ['\\"', '\\"'], ['\\$', '\\$']) },
  { weight: 1, arbitrary: fc.constant<'eol'>('eol') },
);

const doublePieces: fc.Arbitrary<Piece | 'eol'> = fc.oneof(
  { weight: 10, arbitrary: plainQuoted('"') },
  {
    weight: 3,
    arbitrary: fc.constantFrom<Piece>(
      ['\\n', '\n'],
      ['\\t', '\t'],
      ['\\r', '\r'],
      ['\\"', '"'],
      ['\\\\', '\\'],
      ['\\a', '\x07'],
      ['\\v', '\v'],
      ['\\$', '$$'],
      ['\\0101', 'A'],
      ["\\'", "\\'"],
      ['\\q', '\\q'],
      ['\\c', '\\c'],
      ['\\x41', '\\x41'],
    ),
  },
  { weight: 1, arbitrary: fc.constant<'eol'>('eol') },
);

function quotedValue(quote: "'" | '"', pieces: fc.Arbitrary<Piece | 'eol'>): fc.Arbitrary<ValueSpec> {
  return fc.array(pieces, { maxLength: 16 }).map((list) => (eol: string) => {
    let raw = '';
    let value = '';
    for (const p of list) {
      raw += p === 'eol' ? eol : p[0];
      value += p === 'eol' ? eol : p[1];
    }
    return { token: quote + raw + quote, value, quote };
  });
}

const value = fc.oneof(
  { weight: 4, arbitrary: unquoted },
  { weight: 3, arbitrary: quotedValue("'", singlePieces) },
  { weight: 4, arbitrary: quotedValue('"', doublePieces) },
  { weight: 1, arbitrary: backticked },
  { weight: 1, arbitrary: fc.constant<ValueSpec>(() => ({ token: '', value: '', quote: '' })) },
);

/** What may follow a value on its line: blanks, then maybe a comment. */
function tailFor(token: string, quoted: boolean): fc.Arbitrary<string> {
  const comment = commentText.filter((c) => !c.includes('\r'));
  if (quoted) {
    return fc.tuple(ws, fc.option(comment)).map(([w, c]) => (c === null ? w : `${w}#${c}`));
  }
  if (token === '') return ws; // `KEY= # c` would make the comment the value
  return fc.tuple(ws, fc.option(comment)).map(([w, c]) => (c === null ? w : `${w} #${c}`));
}

const entryLine: fc.Arbitrary<LineSpec> = fc
  .record({
    indent: ws,
    exp: fc.constantFrom('', '', '', 'export ', 'export\t'),
    key,
    sp1: ws,
    sp2: ws,
    value,
  })
  .chain(({ indent, exp, key: k, sp1, sp2, value: v }) => {
    const probe = v('\n');
    const quoted = probe.quote === "'" || probe.quote === '"';
    return tailFor(probe.token, quoted).map(
      (tail): LineSpec => ({
        kind: 'entry',
        head: indent + exp,
        key: k,
        eq: `${sp1}=${sp2}`,
        value: v,
        tail,
      }),
    );
  });

const line: fc.Arbitrary<LineSpec> = fc.oneof(
  { weight: 1, arbitrary: ws.map((w): LineSpec => ({ kind: 'blank', ws: w })) },
  {
    weight: 1,
    arbitrary: fc.tuple(ws, commentText, fc.boolean()).map(
      ([w, c, annotation]): LineSpec => ({
        kind: 'comment',
        text: annotation ? `# LastSecretRotation: 2025-0${(c.length % 9) + 1}-01T00:00:00Z` : `${w}#${c}`,
      }),
    ),
  },
  { weight: 5, arbitrary: entryLine },
);

/** Assembles a file from line specs, recording where each entry's token lands. */
function assemble(lines: LineSpec[], eol: '\n' | '\r\n', bom: boolean, finalEol: boolean): GeneratedFile {
  let text = bom ? '\uFEFF' : '';
  let lineNo = 1;
  const entries: EnvEntry[] = [];
  lines.forEach((l, i) => {
    if (l.kind === 'blank') text += l.ws;
    else if (l.kind === 'comment') text += l.text;
    else {
      text += `${l.head}${l.key}${l.eq}`;
      const v = l.value(eol);
      // An empty bare value sits after every blank that follows `=`.
      if (v.token === '') text += l.tail;
      entries.push({
        key: l.key,
        value: v.value,
        line: lineNo,
        valueStart: text.length,
        valueEnd: text.length + v.token.length,
        quote: v.quote,
      });
      text += v.token === '' ? '' : v.token + l.tail;
      lineNo += v.token.split(eol).length - 1;
    }
    if (i < lines.length - 1 || finalEol) {
      text += eol;
      lineNo++;
    }
  });
  const lineBreak = lines.length > 1 || (lines.length === 1 && finalEol);
  return { text, eol, docEol: lineBreak ? eol : '\n', bom, entries };
}

/** Env files mixing every construct, with their exact expected entries. */
export const envFile: fc.Arbitrary<GeneratedFile> = fc
  .record({
    lines: fc.array(line, { maxLength: 14 }),
    eol: fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n'),
    bom: fc.boolean(),
    finalEol: fc.boolean(),
  })
  .map(({ lines, eol, bom, finalEol }) => assemble(lines, eol, bom, finalEol));

/** New values: anything at all, quotes, backslashes, line breaks, `$` and unicode included. */
export const newValue: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  fc.string({ unit: fc.constantFrom(...'ab#$ \t\n\r\'"`\\=:/'.split(''), 'é', '🔑'), maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
