/**
 * Byte-preserving edits: a changed value has its token rewritten, a new key gets a line of its own,
 * the annotation line is set; every other byte of the file stays as it was. The result is parsed
 * again before it is returned, so a file that would read back differently is never produced.
 */
import { RekeyError } from '../lib/errors.js';
import { findAnnotationLines, formatAnnotation } from './annotation.js';
import { encodeQuoted, encodeValue } from './encode.js';
import type { EnvDocument, EnvEntry } from './parse.js';
import { assertUnique, isAllSpace, isValidKey, parseEnv } from './parse.js';

/** A value to set. `after`: when the key is absent, put its new line right after this key's entry. */
export interface EnvChange {
  key: string;
  value: string;
  after?: string;
}

export interface EditOptions {
  /** Set the `# LastSecretRotation:` line to this time (in place, or as a new first line). */
  annotation?: Date;
  /** Names the file in error messages (default 'env file'). */
  source?: string;
}

interface Splice {
  start: number;
  end: number;
  text: string;
  /** Orders splices at the same offset: annotation, values, anchored new lines, appended new lines. */
  rank: number;
}

/**
 * Applies `changes` (and the annotation) to `doc.text` and returns the new text. With no changes and
 * no annotation it returns `doc.text` unchanged. Throws ERR_ENVFILE_DUPLICATE when a changed key is set
 * more than once.
 *
 * @example
 * const doc = parseEnv('A=1 # note\nB="x"\n');
 * editEnv(doc, [{ key: 'B', value: 'y' }, { key: 'C', value: 'z z', after: 'A' }]);
 * // 'A=1 # note\nC=\'z z\'\nB="y"\n'
 */
export function editEnv(doc: EnvDocument, changes: EnvChange[], options: EditOptions = {}): string {
  const source = options.source ?? 'env file';
  const seen = new Set<string>();
  for (const c of changes) {
    if (!isValidKey(c.key))
      throw new RekeyError('ERR_INTERNAL', `editEnv: ${JSON.stringify(c.key)} is not a valid key`);
    if (seen.has(c.key)) throw new RekeyError('ERR_INTERNAL', `editEnv: ${c.key} is changed twice`);
    // A lone surrogate has no UTF-8 form: the file on disk would not hold the value.
    if (/\p{Cs}/u.test(c.value))
      throw new RekeyError('ERR_INTERNAL', `editEnv: the value for ${c.key} is not valid Unicode`);
    seen.add(c.key);
  }
  assertUnique(doc, seen, source);

  const { text } = doc;
  const first = doc.bom ? 1 : 0;
  const byKey = new Map(doc.entries.map((e) => [e.key, e]));
  const splices: Splice[] = [];
  const added: EnvChange[] = [];
  for (const c of changes) {
    const entry = byKey.get(c.key);
    if (entry === undefined) added.push(c);
    else if (entry.value !== c.value) {
      splices.push({
        start: entry.valueStart,
        end: entry.valueEnd,
        text: tokenFor(text, entry, c.value),
        rank: 1,
      });
    }
  }
  splices.push(...insertions(doc, added, byKey));
  if (options.annotation !== undefined) {
    const line = formatAnnotation(options.annotation);
    const found = findAnnotationLines(doc);
    if (found.length === 0) splices.push({ start: first, end: first, text: line + doc.eol, rank: 0 });
    for (const { start, end } of found) splices.push({ start, end, text: line, rank: 0 });
  }
  if (splices.length === 0) return text;

  splices.sort((a, b) => a.start - b.start || a.rank - b.rank);
  let out = '';
  let at = 0;
  for (const s of splices) {
    out += text.slice(at, s.start) + s.text;
    at = s.end;
  }
  out += text.slice(at);
  verify(doc, out, changes, added, source);
  return out;
}

/** The token replacing an entry's value: its own quote style when safe, and never a bare token a comment could swallow. */
function tokenFor(text: string, entry: EnvEntry, value: string): string {
  const token = encodeValue(value, entry.quote);
  if (token.startsWith("'") || token.startsWith('"')) return token;
  const nl = text.indexOf('\n', entry.valueEnd);
  const tail = text.slice(entry.valueEnd, nl < 0 ? text.length : nl);
  // Compose reads a bare value up to the first ` #`: what follows the token on its line must be blank
  // up to there (and all blank for an empty token, since compose skips blanks after `=`).
  const cut = token === '' ? -1 : tail.indexOf(' #');
  return isAllSpace(cut < 0 ? tail : tail.slice(0, cut)) ? token : encodeQuoted(value, entry.quote);
}

/**
 * New lines, grouped by where they go: right after their `after` key's line (or after a key added
 * just before), else appended at the end of the file, after any line anchored there.
 */
function insertions(doc: EnvDocument, added: EnvChange[], byKey: Map<string, EnvEntry>): Splice[] {
  const { text } = doc;
  const APPEND = -1;
  const groups = new Map<number, string[]>();
  const groupOf = new Map<string, number>();
  for (const c of added) {
    const chained = c.after === undefined ? undefined : groupOf.get(c.after);
    const anchor = c.after === undefined ? undefined : byKey.get(c.after);
    let group = APPEND;
    if (chained !== undefined) group = chained;
    else if (anchor !== undefined) {
      const nl = text.indexOf('\n', anchor.valueEnd);
      group = nl < 0 ? text.length : nl + 1;
    }
    const keys = groups.get(group) ?? [];
    if (chained !== undefined) keys.splice(keys.indexOf(c.after ?? '') + 1, 0, c.key);
    else keys.push(c.key);
    groups.set(group, keys);
    groupOf.set(c.key, group);
  }
  const newValues = new Map(added.map((c) => [c.key, c.value]));
  const lacksFinalEol = text.length > (doc.bom ? 1 : 0) && !text.endsWith('\n');
  let eolAdded = false;
  const splices: Splice[] = [];
  // Anchored groups first (ascending offsets), so one at the end of the file precedes the appended one.
  for (const group of [...groups.keys()].sort((a, b) => (a === APPEND ? 1 : b === APPEND ? -1 : a - b))) {
    const start = group === APPEND ? text.length : group;
    let lead = '';
    if (start === text.length && lacksFinalEol && !eolAdded) {
      lead = doc.eol;
      eolAdded = true;
    }
    const lines = (groups.get(group) ?? []).map(
      (k) => `${k}=${encodeValue(newValues.get(k) ?? '')}${doc.eol}`,
    );
    splices.push({ start, end: start, text: lead + lines.join(''), rank: group === APPEND ? 3 : 2 });
  }
  return splices;
}

/** Parses the edited text and checks every entry reads back as intended; a bug here must not reach the disk. */
function verify(
  doc: EnvDocument,
  out: string,
  changes: EnvChange[],
  added: EnvChange[],
  source: string,
): void {
  const next = parseBack(out, source);
  const newValue = new Map(changes.map((c) => [c.key, c.value]));
  const addedKeys = new Set(added.map((c) => c.key));
  const kept = next.entries.filter((e) => !addedKeys.has(e.key));
  if (kept.length !== doc.entries.length) throw editBroken(source, 'has a different number of entries');
  doc.entries.forEach((e, i) => {
    const now = kept[i];
    if (now?.key !== e.key || now.value !== (newValue.get(e.key) ?? e.value)) {
      throw editBroken(source, `reads ${e.key} differently`);
    }
  });
  for (const c of added) {
    const found = next.entries.filter((e) => e.key === c.key);
    if (found.length !== 1 || found[0]?.value !== c.value)
      throw editBroken(source, `reads ${c.key} differently`);
  }
}

function parseBack(out: string, source: string): EnvDocument {
  try {
    return parseEnv(out, source);
  } catch (e) {
    throw editBroken(source, 'does not parse', e);
  }
}

function editBroken(source: string, what: string, cause?: unknown): RekeyError {
  return new RekeyError('ERR_INTERNAL', `editEnv: the edited ${source} ${what}; nothing was written`, {
    cause,
  });
}
