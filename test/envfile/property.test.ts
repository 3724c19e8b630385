import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EnvChange, EnvDocument } from '../../src/envfile/index.js';
import {
  ANNOTATION_PREFIX,
  editEnv,
  encodeValue,
  parseEnv,
  readAnnotation,
} from '../../src/envfile/index.js';
import { envFile, newValue } from './arbitraries.js';
import { expectOnlyValuesChanged, skeleton } from './helpers.js';

/** More runs on demand: REKEY_FC_RUNS=20000 npx vitest run test/envfile/property.test.ts */
const RUNS = { numRuns: Number(process.env.REKEY_FC_RUNS ?? 400) };
const when = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2099-12-31T23:59:59Z'),
  noInvalidDate: true,
});

/** Keys that occur exactly once (only those may be rotated). */
function uniqueKeys(doc: EnvDocument): string[] {
  const count = new Map<string, number>();
  for (const e of doc.entries) count.set(e.key, (count.get(e.key) ?? 0) + 1);
  return [...count].filter(([, n]) => n === 1).map(([k]) => k);
}

describe('property: parse', () => {
  it('reads every generated file exactly as built, and round-trips it byte for byte', () => {
    fc.assert(
      fc.property(envFile, (f) => {
        const doc = parseEnv(f.text);
        expect(doc.text).toBe(f.text);
        expect(doc.entries).toEqual(f.entries);
        expect(doc.bom).toBe(f.bom);
        expect(doc.eol).toBe(f.docEol);
        expect(editEnv(doc, [])).toBe(f.text);
      }),
      RUNS,
    );
  });

  it('encodeValue gives a token that reads back as the value', () => {
    fc.assert(
      fc.property(newValue, fc.constantFrom(undefined, '', "'", '"', '`' as const), (v, q) => {
        const token = encodeValue(v, q);
        expect(parseEnv(`K=${token}`).entries).toEqual([
          expect.objectContaining({ key: 'K', value: v, valueStart: 2, valueEnd: 2 + token.length }),
        ]);
        expect(token.startsWith('`')).toBe(false);
      }),
      RUNS,
    );
  });
});

/** The exact annotation line editEnv writes for `d`. */
function annotationLine(d: Date): string {
  return `${ANNOTATION_PREFIX} ${d.toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/**
 * The expected result of setting the annotation, computed independently: every comment line starting
 * with the prefix (in the gaps between tokens, at the start of a line) replaced, or a first line added.
 */
function withAnnotation(doc: EnvDocument, d: Date): string {
  const line = annotationLine(d);
  let found = false;
  const parts = skeleton(doc).map((gap, i) =>
    gap.replace(
      i === 0 ? /(^\uFEFF?|\n)# LastSecretRotation:[^\r\n]*/g : /(\n)# LastSecretRotation:[^\r\n]*/g,
      (_m, lead) => {
        found = true;
        return lead + line;
      },
    ),
  );
  const tokens = doc.entries.map((e) => doc.text.slice(e.valueStart, e.valueEnd));
  const text = parts.map((p, i) => p + (tokens[i] ?? '')).join('');
  if (found) return text;
  const bom = doc.bom ? '\uFEFF' : '';
  return bom + line + doc.eol + text.slice(bom.length);
}

describe('property: edit', () => {
  const editCase = envFile.chain((f) => {
    const keys = uniqueKeys(parseEnv(f.text));
    return fc.record({
      f: fc.constant(f),
      edits: fc
        .subarray(keys)
        .chain((ks) => fc.tuple(...ks.map((k) => newValue.map((v) => ({ key: k, value: v }))))),
      annotation: fc.option(when, { nil: undefined }),
    });
  });

  it('changes exactly the edited values; every byte outside their tokens stays', () => {
    fc.assert(
      fc.property(editCase, ({ f, edits }) => {
        const before = parseEnv(f.text);
        const out = editEnv(before, edits);
        expectOnlyValuesChanged(before, out, edits, (t) => parseEnv(t));
        if (edits.length === 0) expect(out).toBe(f.text);
      }),
      RUNS,
    );
  });

  it('sets the annotation in place or as the first line, and nothing else', () => {
    fc.assert(
      fc.property(editCase, ({ f, edits, annotation }) => {
        const d = annotation ?? new Date('2026-11-25T10:00:00.456Z');
        const before = parseEnv(f.text);
        const out = editEnv(before, [], { annotation: d });
        expect(out).toBe(withAnnotation(before, d));
        expect(readAnnotation(parseEnv(out))?.getTime()).toBe(Math.floor(d.getTime() / 1000) * 1000);
        // Values and annotation together are the composition of the two.
        const both = editEnv(before, edits, { annotation: d });
        expect(both).toBe(editEnv(parseEnv(editEnv(before, edits)), [], { annotation: d }));
      }),
      RUNS,
    );
  });

  const newKey = fc.stringMatching(/^NEW_[A-Z]{1,4}$/); // built once: building it is slow
  const insertCase = envFile.chain((f) => {
    const keys = uniqueKeys(parseEnv(f.text));
    return fc.record({
      f: fc.constant(f),
      added: fc.array(
        fc.record({
          key: newKey,
          value: newValue,
          after:
            keys.length === 0
              ? fc.constant(undefined)
              : fc.option(fc.constantFrom(...keys), { nil: undefined }),
        }),
        { maxLength: 3 },
      ),
    });
  });

  it('inserts new keys after their anchor line (or at the end) and changes nothing else', () => {
    fc.assert(
      fc.property(insertCase, ({ f, added }) => {
        // One new key per name and per anchor (two keys after the same anchor are a unit test's job).
        const changes: EnvChange[] = added.filter(
          (c, i) =>
            added.findIndex((d) => d.key === c.key || (c.after !== undefined && d.after === c.after)) === i,
        );
        const before = parseEnv(f.text);
        const out = editEnv(before, changes);
        const after = parseEnv(out);
        let rest = out;
        // Remove the inserted lines, last first, checking each sits right after its anchor's line.
        const inserted = after.entries.filter((e) => changes.some((c) => c.key === e.key));
        expect(inserted.map((e) => e.key).sort()).toEqual(changes.map((c) => c.key).sort());
        for (const e of [...inserted].reverse()) {
          const c = changes.find((x) => x.key === e.key)!;
          expect(e.value).toBe(c.value);
          const start = Math.max(out.lastIndexOf('\n', e.valueStart - 1) + 1, f.bom ? 1 : 0);
          const nl = out.indexOf('\n', e.valueEnd);
          expect(out.slice(start, e.valueStart)).toBe(`${c.key}=`);
          expect(out.slice(e.valueEnd, nl + 1)).toBe(after.eol);
          if (c.after !== undefined) {
            const anchor = after.entries.find((x) => x.key === c.after)!;
            expect(out.indexOf('\n', anchor.valueEnd) + 1).toBe(start);
          }
          rest = rest.slice(0, start) + rest.slice(nl + 1);
        }
        // Keys without an anchor are the last lines, in the order given.
        const appended = changes.filter((c) => c.after === undefined).map((c) => c.key);
        expect(after.entries.slice(after.entries.length - appended.length).map((e) => e.key)).toEqual(
          appended,
        );
        const lacksFinalEol = f.text.length > (f.bom ? 1 : 0) && !f.text.endsWith('\n');
        const appendedAtEnd = changes.some((c) => {
          if (c.after === undefined) return true;
          const a = before.entries.find((x) => x.key === c.after)!;
          return f.text.indexOf('\n', a.valueEnd) < 0;
        });
        expect(rest).toBe(
          changes.length > 0 && lacksFinalEol && appendedAtEnd ? f.text + before.eol : f.text,
        );
      }),
      RUNS,
    );
  });
});
