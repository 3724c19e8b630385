/**
 * The test helpers' cleanup and a benchmark's teardown remove what they created and nothing beside
 * it: TMPDIR and REKEY_STACK_TMPDIR point at private folders holding a canary file; after the
 * cleanup, the canaries are there and nothing else is left. (The demo's own teardown and
 * `stop-demo.sh` are checked the same way in test/demo/demo.test.ts.)
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../demo/stack/postgres.js';
import { startRedis } from '../../demo/stack/redis.js';
import { CLI, makeStack } from '../engine/stack.js';
import { tempDir as envfileTempDir } from '../envfile/helpers.js';
import { Harness } from '../grafana-standin/helpers.js';
import { type CanaryTmp, canaryTmp } from '../helpers/canary-tmp.js';
import { record } from '../helpers/resilience.js';
import { runToEnd } from '../helpers/run.js';
import { tempDir } from '../helpers/tmp.js';

let canary: CanaryTmp;
const saved = { TMPDIR: process.env.TMPDIR, REKEY_STACK_TMPDIR: process.env.REKEY_STACK_TMPDIR };
const made: string[] = [];
const REPO = path.resolve(path.dirname(CLI), '../../..');

beforeAll(async () => {
  canary = await canaryTmp();
  Object.assign(process.env, canary.env);
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await canary?.remove();
});

/** Puts a file in a folder a helper made, so its removal is a real recursive delete. */
async function fill(dir: string): Promise<string> {
  made.push(dir);
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fs.writeFile(path.join(dir, 'sub', 'data'), 'x');
  return dir;
}

describe('cleanup leaves the canary beside the folders it removes', () => {
  it('the test helpers make their folders in TMPDIR and REKEY_STACK_TMPDIR…', async () => {
    await fill(await tempDir('rekey-canary-helper-'));
    await fill(await envfileTempDir());
    const harness = new Harness();
    await fill(path.dirname(await harness.dataFile()));
    const stack = await makeStack();
    await fill(stack.dir);
    const [pg, redis] = await Promise.all([startPostgres(), startRedis({ password: 'canary-pw' })]);
    made.push(pg.dir, redis.dir);
    expect(made.every((d) => d.startsWith(canary.tmp) || d.startsWith(canary.stack))).toBe(true);
    expect(made.every((d) => existsSync(d))).toBe(true);
    await Promise.all([pg.stop(), redis.stop()]);
    await stack.cleanup();
    await harness.cleanup();
    // tempDir and the env-file helper remove theirs when this test finishes
  }, 120_000);

  it('…and remove them, and only them', async () => {
    record({
      kind: 'cleanup',
      suite: 'test helpers',
      case: 'tempDir, env-file and Grafana stand-in dirs, engine stack, PostgreSQL and Redis servers',
      removedOwn: made.every((d) => !existsSync(d)) && (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
    for (const d of made) expect(existsSync(d), d).toBe(false);
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
  });

  it('a demo set-up that fails half-way (--keep: servers meant to outlive us) stops what it started and removes its folders', async () => {
    // The Grafana stand-in cannot start (no such build): the set-up fails after PostgreSQL and Redis.
    const script = `
      const { setUpDemoStack } = await import(${JSON.stringify(path.join(REPO, 'dist/demo/stack-setup.js'))});
      const error = await setUpDemoStack({ repo: '/nonexistent-rekey-repo', keep: true }).then(() => undefined, (e) => e);
      console.log(JSON.stringify({ failed: error !== undefined, message: String(error?.message) }));
    `;
    const { code, stdout, stderr } = await runToEnd(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...canary.env },
    });
    const left = await canary.leftovers();
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: 'a `rekey demo --keep` set-up that fails half-way',
      removedOwn: code === 0 && left.length === 0,
      keptOthers: await canary.intact(),
    });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim()).failed).toBe(true);
    // with --keep its servers outlive the process: without the undo they and their dirs stay
    expect(left).toEqual([]);
    await canary.assertCanaries();
  }, 120_000);

  it("a benchmark's teardown (bench/stack.ts, built: the demo stack, its app and servers) removes only its own folders", async () => {
    // As `npm run bench` runs it: the built module, in its own process, with our TMPDIRs.
    const script = `
      const { setUpBenchStack } = await import(${JSON.stringify(path.join(REPO, 'dist/bench/stack.js'))});
      const stack = await setUpBenchStack({ alternating: false });
      const dirs = [stack.dir, stack.pg.dir, stack.redis.dir];
      const before = dirs.map((d) => fs.existsSync(d));
      const deployed = await stack.deployScript('deploy');
      await stack.tearDown();
      console.log(JSON.stringify({ dirs, before, deployed }));
    `;
    const { code, stdout, stderr } = await runToEnd(
      process.execPath,
      ['--input-type=module', '-e', `import fs from 'node:fs';${script}`],
      { env: { ...process.env, ...canary.env } },
    );
    record({
      kind: 'cleanup',
      suite: 'bench',
      case: 'bench/stack.ts set-up, deploy, tearDown',
      removedOwn: code === 0 && (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      dirs: string[];
      before: boolean[];
      deployed: number;
    };
    expect(out.before).toEqual([true, true, true]);
    expect(out.deployed).toBe(0);
    for (const d of out.dirs) {
      expect(d.startsWith(canary.tmp) || d.startsWith(canary.stack), d).toBe(true);
      expect(existsSync(d), d).toBe(false);
    }
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
  }, 180_000);
});
