/**
 * The dashboard's routes hold no secret value (attacker's view: the served process is the most
 * exposed one). After real rotations through the built CLI (so this process never loads a value),
 * every route is fetched twice: no file that holds a value (the env file, its backups) is read whole,
 * and no value (old or new) is registered with the redactor, i.e. the process never held one.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveDashboard } from '../../src/dashboard/serve.js';
import { silentLogger } from '../../src/lib/log.js';
import { redactor } from '../../src/lib/redact.js';
import { INITIAL, useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();

afterEach(() => {
  vi.restoreAllMocks();
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('the dashboard holds no secret value', { timeout: 180_000 }, () => {
  it('reads no file holding a value whole and registers no value, over every route', async () => {
    const s = await stack();
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    await s.faults({ 'stage:SINGLE_PASSWORD': 'fail' });
    expect((await s.run(['rotate', '--yes'])).code).toBe(1);
    const values = [...Object.values(INITIAL), ...[...(await s.env()).values()].filter((v) => v.length >= 8)];
    const holding: string[] = [];
    for (const f of await filesUnder(s.dir)) {
      const text = await fsp.readFile(f, 'latin1');
      if (values.some((v) => text.includes(v))) holding.push(f);
    }
    expect(holding).toContain(s.envFile);
    expect(holding.length).toBeGreaterThan(1); // and its backups

    const whole: string[] = [];
    const readFile = fsp.readFile;
    const open = fsp.open;
    vi.spyOn(fsp, 'readFile').mockImplementation(((file: Parameters<typeof fsp.readFile>[0], ...rest: []) => {
      whole.push(String(file));
      return readFile(file, ...rest);
    }) as typeof fsp.readFile);
    // Through a handle: a whole read, or more than the annotation's first block.
    vi.spyOn(fsp, 'open').mockImplementation((async (file: string, ...rest: []) => {
      const handle = await open(file, ...rest);
      const readAll = handle.readFile.bind(handle);
      const read = handle.read.bind(handle);
      let bytes = 0;
      handle.readFile = (async (...args: Parameters<typeof handle.readFile>) => {
        whole.push(String(file));
        return (readAll as (...a: unknown[]) => Promise<Buffer>)(...args);
      }) as typeof handle.readFile;
      handle.read = (async (...args: Parameters<typeof handle.read>) => {
        const r = await (read as (...a: unknown[]) => Promise<{ bytesRead: number }>)(...args);
        bytes += r.bytesRead;
        if (bytes > 512) whole.push(String(file));
        return r;
      }) as typeof handle.read;
      return handle;
    }) as typeof fsp.open);
    const server = await serveDashboard({
      configPath: path.join(s.dir, 'rekey.yaml'),
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
    });
    try {
      for (let i = 0; i < 2; i++) {
        for (const route of ['', 'api/status', 'api/rotations', 'metrics']) {
          const r = await fetch(`${server.root}${route}`);
          expect(r.status, route).toBe(200);
          await r.text();
        }
      }
    } finally {
      await server.close();
    }
    expect(whole.length).toBeGreaterThan(0); // the spy saw the audit log and the history
    expect(whole.filter((f) => holding.includes(path.resolve(f)))).toEqual([]);
    const registered = values.filter((v) => redactor.redact(v) !== v);
    record({
      kind: 'canary',
      suite: 'dashboard',
      scope: 'rekey serve dashboard: values in its redactor after 2 fetches of every route',
      values: values.length,
      places: 1,
      occurrences: registered.length,
    });
    expect(registered).toEqual([]);
  });
});
