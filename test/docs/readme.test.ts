import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/lib/errors.js';

const root = new URL('../..', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const readme = read('README.md');
const errors = read('docs/errors.md');

/** The text of the `## title` section of a markdown file, up to the next `## `. */
function section(text: string, title: string): string {
  const start = text.indexOf(`## ${title}`);
  expect(start, `section "${title}"`).toBeGreaterThanOrEqual(0);
  const next = text.indexOf('\n## ', start + 3);
  return text.slice(start, next < 0 ? undefined : next);
}

describe('README and docs', () => {
  it('docs/errors.md lists every error code with its exit code (npm run docs regenerates the table)', () => {
    for (const [code, { exit }] of Object.entries(ERROR_CODES)) {
      expect(errors, code).toMatch(new RegExp(`\\| \`${code}\` +\\| ${exit} +\\|`));
    }
  });

  it('the README has a quick start of exactly two commands: the demo and the tests', () => {
    const block = /```sh\n([\s\S]*?)```/.exec(section(readme, 'Quick start'))?.[1] ?? '';
    const commands = block
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.replace(/\s+#.*$/, '').trim());
    expect(commands).toEqual(['npm run demo', 'npm test']);
  });

  it("the README's command table has a row for every command of `rekey --help`", () => {
    const cli = new URL('dist/src/cli/main.js', root);
    expect(existsSync(cli), 'dist/ is built (npm run build)').toBe(true);
    const help = execFileSync(process.execPath, [cli.pathname, '--help'], { encoding: 'utf8' });
    const commands = help
      .slice(help.indexOf('Commands:'))
      .split('\n')
      .map((l) => /^ {2}([a-z-]+)/.exec(l)?.[1])
      .filter((c): c is string => c !== undefined && c !== 'help');
    expect(commands.length).toBeGreaterThan(10);
    const table = section(readme, 'Commands');
    for (const command of commands)
      expect(table, command).toMatch(new RegExp(`^\\| \`rekey ${command}[ \`]`, 'm'));
  });

  it('every relative link of README.md and docs/*.md leads to a file that exists (and to a heading of it)', () => {
    const files = ['README.md', ...readdirSync(new URL('docs/', root)).map((f) => `docs/${f}`)].filter((f) =>
      f.endsWith('.md'),
    );
    const slug = (h: string) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-');
    const anchors = (file: string) =>
      new Set([...read(file).matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] ?? '')));
    const broken: string[] = [];
    for (const file of files) {
      const text = read(file).replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const dest =
          path === '' ? file : new URL(path, new URL(file, root)).pathname.slice(root.pathname.length);
        if (!existsSync(new URL(dest, root))) broken.push(`${file}: ${target}`);
        else if (anchor !== undefined && dest.endsWith('.md') && !anchors(dest).has(anchor))
          broken.push(`${file}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('README.md and the docs it owns wrap prose at 120 columns (tables and code blocks aside)', () => {
    const owned = [
      'README.md',
      'docs/README.md',
      'docs/configuration.md',
      'docs/demo.md',
      'docs/development.md',
    ];
    owned.push('docs/errors.md', 'docs/operations.md', 'docs/performance.md', 'docs/rotation.md');
    owned.push('docs/secret-types.md', 'docs/triggers.md');
    const wide: string[] = [];
    for (const file of owned) {
      let fenced = false;
      read(file)
        .split('\n')
        .forEach((line, i) => {
          if (line.startsWith('```')) fenced = !fenced;
          else if (!fenced && !line.startsWith('|') && line.length > 120) wide.push(`${file}:${i + 1}`);
        });
    }
    expect(wide).toEqual([]);
  });

  it('points users at files that have the sections it names (error hints, init)', () => {
    const named = [
      ...Object.values(ERROR_CODES).map((c) => c.hint),
      read('src/cli/init.ts'),
      read('src/config/init.ts'),
    ]
      .join('\n')
      .matchAll(/(README(?:\.md)?|docs\/[\w.-]+\.md) "([^"]+)"/g);
    for (const [, file = '', title = ''] of named) {
      const text = read(file === 'README' ? 'README.md' : file);
      expect(text, `${file} "${title}"`).toMatch(
        new RegExp(`^#+ ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'),
      );
    }
  });
});
