import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('lists every error code with its exit code (npm run docs regenerates the table)', () => {
    for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
      expect(readme, code).toMatch(new RegExp(`\\| \`${code}\` +\\| ${exit} +\\|`));
    }
  });

  it('has a quick start of exactly two commands: the demo and the tests', () => {
    const quick = readme.slice(
      readme.indexOf('## Quick start'),
      readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5),
    );
    const block = /```sh\n([\s\S]*?)```/.exec(quick)?.[1] ?? '';
    const commands = block
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replace(/\s+#.*$/, '').trim());
    expect(commands).toEqual(['npm run demo', 'npm test']);
  });
});
