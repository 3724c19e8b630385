/** Shared helpers for the env-file tests: real temp dirs removed after each test, captured stderr. */
import { expect, onTestFinished, vi } from 'vitest';
import type { EnvDocument } from '../../src/envfile/index.js';
import { RekeyError } from '../../src/lib/errors.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';

/** A fresh directory under the OS temp dir, removed when the current test ends. */
export async function tempDir(): Promise<string> {
  const dir = await makeOwnedDir('rekey-envfile-'); // its real path
  onTestFinished(() => removeOwnedDir(dir).then(() => {}));
  return dir;
}

/** Collects what is written to stderr until the current test ends. */
export function captureStderr(): { text: () => string } {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  onTestFinished(() => spy.mockRestore());
  return { text: () => chunks.join('') };
}

/** Runs `fn`, expects a RekeyError with `code`, and returns it. */
export function rekeyError(fn: () => unknown, code: string): RekeyError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RekeyError);
    expect((e as RekeyError).code).toBe(code);
    return e as RekeyError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** Same as {@link rekeyError} for a promise. */
export async function rekeyErrorAsync(p: Promise<unknown>, code: string): Promise<RekeyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RekeyError);
    expect((e as RekeyError).code).toBe(code);
    return e as RekeyError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** The text with every value token cut out: what an edit of values alone must leave unchanged. */
export function skeleton(doc: EnvDocument): string[] {
  const parts: string[] = [];
  let at = 0;
  for (const e of doc.entries) {
    parts.push(doc.text.slice(at, e.valueStart));
    at = e.valueEnd;
  }
  parts.push(doc.text.slice(at));
  return parts;
}

/** Key, value and raw token of every entry, for compact assertions. */
export function summary(doc: EnvDocument): [string, string, string][] {
  return doc.entries.map((e) => [e.key, e.value, doc.text.slice(e.valueStart, e.valueEnd)]);
}

/**
 * Asserts that `out` is `before.text` with only the tokens of changed values rewritten: values read
 * back as intended, and rebuilding the text from the original gaps and the tokens found in `out` gives
 * `out` exactly. Tokens whose value did not change must be the original bytes.
 */
export function expectOnlyValuesChanged(
  before: EnvDocument,
  out: string,
  changes: { key: string; value: string }[],
  parse: (text: string) => EnvDocument,
): void {
  const after = parse(out);
  const changed = new Map(changes.map((c) => [c.key, c.value]));
  expect(after.entries.map((e) => [e.key, e.value])).toEqual(
    before.entries.map((e) => [e.key, changed.get(e.key) ?? e.value]),
  );
  const gaps = skeleton(before);
  let rebuilt = '';
  before.entries.forEach((e, i) => {
    const a = after.entries[i]!;
    rebuilt += gaps[i];
    let token = '';
    // An empty bare token sits after any blanks that follow it; elsewhere it starts where the old one did.
    if (!(a.quote === '' && a.value === '')) {
      expect(a.valueStart).toBe(rebuilt.length);
      token = out.slice(a.valueStart, a.valueEnd);
    }
    if ((changed.get(e.key) ?? e.value) === e.value)
      expect(token).toBe(before.text.slice(e.valueStart, e.valueEnd));
    rebuilt += token;
  });
  rebuilt += gaps[before.entries.length];
  expect(rebuilt).toBe(out);
}
