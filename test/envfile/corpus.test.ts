/**
 * The fixture corpus: `valid/*.env` with the key → value map compose reads from each
 * (`*.expected.json`, written by hand), `invalid/*.env` with the error code and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { editEnv, envValues, parseEnv, readAnnotation } from '../../src/envfile/index.js';
import { expectOnlyValuesChanged, rekeyError } from './helpers.js';

const ROOT = path.join(import.meta.dirname, '../fixtures/envfiles');

function corpus(kind: 'valid' | 'invalid'): { name: string; text: string; expected: unknown }[] {
  const dir = path.join(ROOT, kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.env'))
    .sort()
    .map((f) => {
      const bytes = readFileSync(path.join(dir, f));
      const text = bytes.toString('utf8');
      expect(Buffer.from(text, 'utf8').equals(bytes)).toBe(true);
      const expected: unknown = JSON.parse(
        readFileSync(path.join(dir, f.replace(/\.env$/, '.expected.json')), 'utf8'),
      );
      return { name: f, text, expected };
    });
}

const valid = corpus('valid');
const invalid = corpus('invalid');

/** Keys set exactly once. */
function uniqueKeys(text: string): string[] {
  const keys = parseEnv(text).entries.map((e) => e.key);
  return keys.filter((k) => keys.indexOf(k) === keys.lastIndexOf(k));
}

describe('corpus', () => {
  it('has at least 40 files, tricky ones included', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(40);
    const texts = valid.map((v) => v.text);
    expect(texts.some((t) => t.includes('\r\n'))).toBe(true);
    expect(texts.some((t) => t.startsWith('\uFEFF'))).toBe(true);
    expect(texts.some((t) => t.length > 0 && !t.endsWith('\n'))).toBe(true);
    expect(texts.some((t) => t.length > 60_000)).toBe(true);
  });

  describe.each(valid)('valid/$name', ({ name, text, expected }) => {
    const doc = parseEnv(text, name);

    it('reads the expected values', () => {
      expect(Object.fromEntries(envValues(doc))).toEqual(expected);
    });

    it('round-trips byte for byte', () => {
      expect(doc.text).toBe(text);
      expect(editEnv(doc, [])).toBe(text);
    });

    it('edits every key to a plain value, changing nothing else', () => {
      const changes = uniqueKeys(text).map((key, i) => ({ key, value: `rekey-new-${i}_Zx9` }));
      expectOnlyValuesChanged(doc, editEnv(doc, changes), changes, (t) => parseEnv(t, name));
    });

    it('edits every key to a value that needs quoting, changing nothing else', () => {
      const changes = uniqueKeys(text).map((key, i) => ({ key, value: `new #${i} it's "q" \\ $x\nz` }));
      expectOnlyValuesChanged(doc, editEnv(doc, changes), changes, (t) => parseEnv(t, name));
    });

    it('sets the annotation and reads it back', () => {
      const when = new Date('2026-11-25T10:00:00Z');
      const out = editEnv(doc, [], { annotation: when });
      const again = parseEnv(out, name);
      expect(readAnnotation(again)?.toISOString()).toBe(when.toISOString());
      expect(Object.fromEntries(envValues(again))).toEqual(expected);
    });

    it('refuses to edit a key set more than once', () => {
      const keys = doc.entries.map((e) => e.key);
      for (const key of keys.filter((k, i) => keys.indexOf(k) !== i)) {
        rekeyError(() => editEnv(doc, [{ key, value: 'x' }]), 'ERR_ENVFILE_DUPLICATE');
      }
    });
  });

  describe.each(invalid)('invalid/$name', ({ text, expected }) => {
    it('fails with the expected code and line, quoting nothing from the file', () => {
      const { code, line } = expected as { code: string; line: number };
      const err = rekeyError(() => parseEnv(text, 'fixture'), code);
      expect(err.message).toMatch(new RegExp(`^fixture line ${line}: `));
      expect(err.message).not.toContain('\n');
      const fragments = text.split(/[\s=#'"`:$\uFEFF]+/).filter((f) => f.length >= 4);
      expect(fragments.length).toBeGreaterThan(0);
      for (const f of fragments) expect(err.message).not.toContain(f);
    });
  });
});
