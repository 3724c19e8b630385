/**
 * Bad input gets a clear error and changes nothing: exit 2, the error code, one line saying what is
 * wrong and one saying what to do, no stack trace, and every file in the stack byte- and
 * mtime-identical afterwards.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Stack, useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== '.git') await walk(p);
        continue;
      }
      const st = await fs.stat(p);
      out.set(p, `${st.mtimeMs}:${st.mode}:${(await fs.readFile(p)).toString('base64')}`);
    }
  };
  await walk(dir);
  return out;
}

const CASES: Array<[string, (s: Stack) => Promise<void>, RegExp]> = [
  [
    'a malformed config',
    (s) => fs.appendFile(path.join(s.dir, 'rekey.yaml'), '\npolicy: { maxAge: soon }\n'),
    /ERR_CONFIG_INVALID: rekey\.yaml: policy\.maxAge: expected a duration/,
  ],
  [
    'a malformed env file',
    (s) => fs.appendFile(s.envFile, 'BROKEN="unterminated\n'),
    /ERR_ENVFILE_PARSE: .*line 9/,
  ],
  [
    'a duplicate rotated key',
    (s) => fs.appendFile(s.envFile, 'SINGLE_PASSWORD=anotherValue123456789\n'),
    /ERR_ENVFILE_DUPLICATE: .*SINGLE_PASSWORD.*lines? 6.*9/,
  ],
  [
    'an env file tracked by git',
    async (s) => {
      const git = (...args: string[]) => execFileSync('git', args, { cwd: s.dir, stdio: 'ignore' });
      git('init', '-q');
      git('add', '.env.production');
    },
    /ERR_ENVFILE_TRACKED/,
  ],
  [
    'an env file not ignored by git',
    async (s) => {
      execFileSync('git', ['init', '-q'], { cwd: s.dir, stdio: 'ignore' });
    },
    /ERR_ENVFILE_NOT_IGNORED/,
  ],
  ['an unknown --only key', async () => {}, /ERR_ONLY_UNKNOWN: --only names unknown key: NOPE/],
];

describe('bad input exits 2 and changes nothing', () => {
  it.each(CASES)('%s', async (name, breakIt, expected) => {
    const s = await stack();
    await breakIt(s);
    const before = await snapshot(s.dir);
    for (const args of [
      ['rotate', '--yes', '--only', 'NOPE'],
      ['plan', '--only', 'NOPE'],
    ]) {
      const only = expected.source.includes('NOPE');
      const r = await s.run(only ? args : args.filter((a) => a !== '--only' && a !== 'NOPE'));
      record({
        kind: 'bad-input',
        suite: 'cli',
        case: `${name} (${args[0]})`,
        exit: r.code,
        code: /ERR_[A-Z_]+/.exec(r.stderr)?.[0] ?? '?',
        unchanged: JSON.stringify([...(await snapshot(s.dir))]) === JSON.stringify([...before]),
      });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(expected);
      const lines = r.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(/^ {2}→ \S/);
      expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
    }
    expect(await snapshot(s.dir)).toEqual(before);
  });

  it('the parse error names the line but never echoes its content', async () => {
    const s = await stack();
    await fs.appendFile(s.envFile, 'LEAKY="sup3rSecretValueNeverShown\n');
    const r = await s.run(['plan']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('sup3rSecretValueNeverShown');
    expect(r.stderr).not.toContain('LEAKY="');
  });

  it('--allow-unignored accepts an unignored env file but never a tracked one', async () => {
    const s = await stack();
    execFileSync('git', ['init', '-q'], { cwd: s.dir, stdio: 'ignore' });
    expect((await s.run(['--allow-unignored', 'plan'])).code).toBe(0);
    execFileSync('git', ['add', '.env.production'], { cwd: s.dir, stdio: 'ignore' });
    const r = await s.run(['--allow-unignored', 'plan']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERR_ENVFILE_TRACKED/);
  });

  it('a usage error (unknown option, bad trigger) is ERR_USAGE, exit 2', async () => {
    const s = await stack();
    for (const args of [['rotate', '--nope'], ['plan', '--trigger', 'whenever'], ['frobnicate']]) {
      const r = await s.run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/ERR_USAGE/);
    }
  });
});
