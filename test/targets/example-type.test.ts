/**
 * "Adding a secret type is one folder plus one registry entry" (docs/secret-types.md), shown for
 * real: a copy of src/ gets the example type's folder (test/targets/example-type/ as
 * src/targets/file-token/) and its entry in src/targets/registry.ts, and nothing else. The copy is
 * type-checked, held to the layer rule and built with tsc, then its CLI detects the type (`rekey
 * init`), loads it (schema, owned keys: a `${FILE_TOKEN}` in a command is refused), plans it, rotates
 * it and rolls it back. docs/secret-types.md walks through these very files.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerReport } from '../docs/layers.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(ROOT, 'test/targets/example-type');
const OLD = 'old-token-0123456789abcdefghijklmnop';

/** The registry with the example type's entry: its import and its line in the list. */
function withExampleType(registry: string): string {
  const lastImport = "import { redisType } from './redis/config.js';\n";
  const lastEntry = '  commandType,\n';
  expect(registry).toContain(lastImport);
  expect(registry).toContain(lastEntry);
  return registry
    .replace(lastImport, `${lastImport}import { fileTokenType } from './file-token/config.js';\n`)
    .replace(lastEntry, `${lastEntry}  fileTokenType,\n`);
}

describe('a secret type added by one folder and one registry entry', { timeout: 300_000 }, () => {
  let copy: string;
  let cli: string;

  beforeAll(async () => {
    copy = await tempDir('rekey-example-type-');
    // src/ and demo/ (`rekey demo` runs it): what `npm run build` compiles for the CLI.
    for (const dir of ['src', 'demo'])
      await fs.cp(path.join(ROOT, dir), path.join(copy, dir), { recursive: true });
    await fs.cp(FIXTURE, path.join(copy, 'src/targets/file-token'), { recursive: true });
    const registry = path.join(copy, 'src/targets/registry.ts');
    const before = await fs.readFile(registry, 'utf8');
    const after = withExampleType(before);
    await fs.writeFile(registry, after);
    // The whole change outside the new folder: two added lines of the registry, nothing removed.
    const added = after.split('\n').filter((l) => !before.split('\n').includes(l));
    expect(added).toEqual(["import { fileTokenType } from './file-token/config.js';", '  fileTokenType,']);
    expect(after.split('\n').length).toBe(before.split('\n').length + 2);

    await fs.copyFile(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'));
    await fs.symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    await fs.writeFile(
      path.join(copy, 'tsconfig.json'),
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: false, outDir: 'dist', rootDir: '.', sourceMap: false },
        include: ['src', 'demo'],
        exclude: [],
      }),
    );
    const tsc = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', copy],
      {
        encoding: 'utf8',
      },
    );
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    cli = path.join(copy, 'dist/src/cli/main.js');
  }, 300_000);

  it('keeps every import arrow pointing down, with no circle (test/docs/layers.test.ts on the copy)', () => {
    expect(layerReport(path.join(copy, 'src'))).toEqual({
      unknownFolders: [],
      up: [],
      adapters: [],
      crossAdapters: [],
      engineReach: [],
      circles: [],
      named: [],
      computed: ['targets/index.ts'],
    });
  });

  it('is the example docs/secret-types.md walks through, file by file', async () => {
    const docs = await fs.readFile(path.join(ROOT, 'docs/secret-types.md'), 'utf8');
    for (const file of ['config.ts', 'kind.ts']) {
      // The code after the file's doc comment, as the docs show it.
      const code = (await fs.readFile(path.join(FIXTURE, file), 'utf8')).replace(/^\/\*\*[\s\S]*?\*\/\n/, '');
      expect(docs, file).toContain(code.trim());
    }
    expect(docs).toContain("import { fileTokenType } from './file-token/config.js';");
  });

  /** A stack folder with an env file and the token file the service reads. */
  async function stack(): Promise<string> {
    const dir = await tempDir('rekey-file-token-');
    await fs.writeFile(path.join(dir, '.env.production'), `APP_NAME=demo\nFILE_TOKEN=${OLD}\n`, {
      mode: 0o600,
    });
    await fs.writeFile(path.join(dir, 'token.txt'), `${OLD}\n`, { mode: 0o600 });
    return dir;
  }
  const run = (dir: string, args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
  const envValue = async (dir: string) =>
    /^FILE_TOKEN=(.*)$/m.exec(await fs.readFile(path.join(dir, '.env.production'), 'utf8'))?.[1];
  const token = async (dir: string) => (await fs.readFile(path.join(dir, 'token.txt'), 'utf8')).trim();

  it('is detected by `rekey init`, planned and rotated: the env file and the token file get one new value', async () => {
    const dir = await stack();
    const init = run(dir, ['init', '--json']);
    expect(init.status, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout).keys).toEqual(['FILE_TOKEN']);
    expect(await fs.readFile(path.join(dir, 'rekey.yaml'), 'utf8')).toContain(
      '- { key: FILE_TOKEN, type: file-token, path: token.txt }',
    );

    const plan = run(dir, ['plan', '--json']);
    expect(plan.status, plan.stderr).toBe(0);
    const steps = JSON.stringify(JSON.parse(plan.stdout));
    expect(steps).toContain('FILE_TOKEN');
    expect(steps).toContain('new token in token.txt');

    const rotate = run(dir, ['rotate', '--yes', '--json']);
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ outcome: 'rotated' });
    const next = await envValue(dir);
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url: the type's defaultBytes
    expect(await token(dir)).toBe(next);
    for (const out of [rotate.stdout, rotate.stderr, plan.stdout, plan.stderr]) {
      expect(out).not.toContain(OLD);
      expect(out).not.toContain(next);
    }
  });

  it('is rolled back when the deploy fails: the token file holds the old value again', async () => {
    const dir = await stack();
    await fs.writeFile(
      path.join(dir, 'rekey.yaml'),
      [
        'envFile: .env.production',
        'secrets:',
        '  - { key: FILE_TOKEN, type: file-token, path: token.txt }',
        'deploy: { command: "exit 1", rollback: "true" }',
        '',
      ].join('\n'),
    );
    const rotate = run(dir, ['rotate', '--yes', '--json']);
    expect(rotate.status).not.toBe(0);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ outcome: 'rolled-back' });
    expect(await envValue(dir)).toBe(OLD);
    expect(await token(dir)).toBe(OLD);
  });

  it('owns its key at config loading: an unknown field is refused, and a reference to FILE_TOKEN in a command', async () => {
    const dir = await stack();
    const config = (fields: string, deploy: string) =>
      fs.writeFile(
        path.join(dir, 'rekey.yaml'),
        `envFile: .env.production\nsecrets:\n  - { key: FILE_TOKEN, type: file-token, path: token.txt${fields} }\n${deploy}\n`,
      );
    await config(', bytes: 3', '');
    const unknown = run(dir, ['plan']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/secrets\[0\]: unknown key "bytes"/);
    await config('', `deploy: { command: "echo $\{FILE_TOKEN}" }`);
    const refused = run(dir, ['plan']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/ERR_CONFIG_INVALID.*\$\{FILE_TOKEN\} would copy a managed secret/);
    expect(refused.stderr).not.toContain(OLD);
    expect(await token(dir)).toBe(OLD);
  });
});
