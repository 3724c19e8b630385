/**
 * A deploy that prints the secrets in disguise (a 9-character prefix, base64 in both alphabets at
 * every alignment, hex, URL-encoded) and fails: stderr, the deploy log and `--json` must not carry any
 * form of any value, and `--json` leaves the deploy's output out unless `--verbose`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { INITIAL, useStacks, writtenFiles } from './stack.js';

const stack = useStacks();

// Prints every managed value of the env file in disguise, keeps the raw values for the test (outside
// rekey's reach: this file is the test's own record), then fails so rekey reports the output.
const LEAKY_DEPLOY = `
import { appendFileSync, readFileSync } from 'node:fs';
const keys = ['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD'];
for (const line of readFileSync('.env.production', 'utf8').split('\\n')) {
  const m = /^(?:export )?([A-Z_]+)="?([^"\\s#]*)/.exec(line);
  if (!m || !keys.includes(m[1])) continue;
  const v = m[2];
  appendFileSync('raw-values.test-only', v + '\\n');
  console.log('prefix ' + v.slice(0, 9) + '...');
  console.log('middle ' + v.slice(3, 14));
  for (const pre of ['', 'u', 'us', 'user:']) {
    const b = Buffer.from(pre + v);
    console.log('basic ' + b.toString('base64') + ' url ' + b.toString('base64url'));
    console.error('nopad ' + b.toString('base64').replace(/=+$/, ''));
  }
  console.log('hex ' + Buffer.from(v).toString('hex') + ' HEX ' + Buffer.from(v).toString('hex').toUpperCase());
  console.log('uri ' + encodeURIComponent(v + '/&'));
}
process.exit(1);
`;

describe('deploy output in disguise', () => {
  it('no prefix, base64, hex or URL copy of a secret reaches stderr, the log or --json; --json leaves the output out unless --verbose', async () => {
    const s = await stack({ deploy: 'node leak.mjs' });
    await fs.writeFile(path.join(s.dir, 'leak.mjs'), LEAKY_DEPLOY);

    const plain = await s.run(['rotate', '--yes', '--json']);
    expect(plain.code, plain.stderr).toBe(1);
    const doc = JSON.parse(plain.stdout);
    expect(doc.outcome).toBe('rolled-back');
    expect(doc.error.code).toBe('ERR_DEPLOY_FAILED');
    const details: string[] = doc.error.details;
    expect(details.some((d) => d.startsWith('output: '))).toBe(true);
    expect(details.join('\n')).not.toMatch(/prefix|basic|nopad|hex /);
    expect(details.at(-1)).toMatch(/lines of command output left out; --verbose includes them/);

    const verbose = await s.run(['rotate', '--yes', '--json', '--verbose']);
    expect(verbose.code, verbose.stderr).toBe(1);
    const vdoc = JSON.parse(verbose.stdout);
    // The details keep the output's last lines; the deploy's stdout and stderr arrive in either order.
    expect(vdoc.error.details.join('\n')).toMatch(/(nopad|basic) .*\[REDACTED:/);
    expect(vdoc.error.details.join('\n')).toMatch(/hex \[REDACTED:/);

    const human = await s.run(['rotate', '--yes']);
    expect(human.code).toBe(1);
    // Without --json, people still see the (masked) output on stderr.
    expect(human.stderr).toMatch(/hex \[REDACTED:/);

    const raw = (await fs.readFile(path.join(s.dir, 'raw-values.test-only'), 'utf8')).split('\n');
    const secrets = new Set([...Object.values(INITIAL), ...raw.filter((v) => v.length >= 16)]);
    expect(secrets.size).toBeGreaterThanOrEqual(12); // old values + three rotations' new values
    const files = (await writtenFiles(s.stateDir)).filter((f) => !f.endsWith('.test-only'));
    const stored = await Promise.all(files.map((f) => fs.readFile(f, 'utf8')));
    const texts = [
      plain.stdout,
      plain.stderr,
      verbose.stdout,
      verbose.stderr,
      human.stdout,
      human.stderr,
      ...stored,
    ];
    record({
      kind: 'canary',
      suite: 'deploy output in disguise (prefix, base64 ×2 alphabets ×3 alignments, hex, URL)',
      scope: 'stdout, stderr, --json error.details (with and without --verbose), state dir, deploy logs',
      values: secrets.size,
      places: texts.length,
      occurrences: leakOccurrences(secrets, texts),
    });
    expect(stored.some((t) => t.includes('prefix [REDACTED:'))).toBe(true); // the deploy log was scanned
    expect(findLeak(secrets, texts)).toBeUndefined();
  }, 240_000);
});
