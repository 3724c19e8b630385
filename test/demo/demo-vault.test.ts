/**
 * `rekey demo --store vault-kv` end to end: the app reads its JWT secret and API key from the Vault
 * KV v2 stand-in; the scheduled rotation under traffic fails no request; grace and compromise behave
 * as in the env-file demo; the canary scans (rekey's output, the app log, the stand-in's request log)
 * find no value; every process stopped and the folder removed (a canary file beside it kept); with
 * --keep, stop-demo.sh stops the stand-in with the other servers.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { processAlive as alive } from '../../src/lib/process-alive.js';
import { CLI } from '../engine/stack.js';
import { canaryTmp } from '../helpers/canary-tmp.js';
import { record } from '../helpers/resilience.js';
import { runToEnd } from '../helpers/run.js';

interface Claim {
  step: string;
  claim: string;
  actual: string | number;
  ok: boolean;
}

describe('rekey demo --store vault-kv', () => {
  it('rotates the secrets the app reads from Vault with 0 failed requests, no value leaked, and tears down', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const { code, stdout, stderr } = await runToEnd(
      process.execPath,
      [CLI, 'demo', '--store', 'vault-kv', '--json'],
      { env: { ...process.env, ...canary.env, NO_COLOR: '1' } },
    );
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: '`rekey demo --store vault-kv` tears down (the Vault stand-in included)',
      removedOwn: code === 0 && (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as {
      ok: boolean;
      dir: string;
      claims: Claim[];
      commands: Array<{ args: string[]; exitCode: number }>;
    };
    const actual = (text: RegExp) => doc.claims.find((c) => text.test(c.claim))?.actual;
    expect(actual(/Vault holds a new JWT secret/)).toBe('changed');
    expect(actual(/Vault holds a new API key/)).toBe('changed');
    expect(actual(/during the rotation \(\d+\) that failed/)).toBe(0);
    expect(doc.claims.find((c) => /during the rotation/.test(c.claim))?.claim).not.toMatch(/\(0\)/);
    expect(actual(/token issued before the rotation still works/)).toBe(200);
    expect(actual(/old API key still works/)).toBe(200);
    expect(actual(/new API key works/)).toBe(200);
    expect(actual(/token from before both rotations is rejected/)).toBe(401);
    expect(actual(/previous API key is rejected/)).toBe(401);
    expect(actual(/new login works/)).toBe(200);
    expect(actual(/secret values in what the rekey commands printed/)).toBe(0);
    expect(actual(/secret values in the app log/)).toBe(0);
    expect(actual(/secret values in the Vault stand-in's request log/)).toBe(0);
    expect(doc.claims.every((c) => c.ok)).toBe(true);
    expect(doc.ok).toBe(true);
    expect(doc.commands.map((c) => c.args[0])).toEqual(['rotate', 'verify', 'rotate', 'status']);
    expect(existsSync(doc.dir)).toBe(false);
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
  }, 240_000);

  it('--keep leaves the stack running, the Vault stand-in included; stop-demo.sh stops it all', async () => {
    const canary = await canaryTmp();
    const env = { ...process.env, ...canary.env, NO_COLOR: '1' };
    const kept = await runToEnd(process.execPath, [CLI, 'demo', '--store', 'vault-kv', '--keep', '--json'], {
      env,
    });
    const doc = JSON.parse(kept.stdout || '{}') as { ok?: boolean; dir?: string; kept?: boolean };
    const servers = doc.dir
      ? (await fs.readFile(path.join(doc.dir, '.run', 'pids'), 'utf8').catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [name, pid] = line.split(' ');
            return { name, pid: Number(pid) };
          })
      : [];
    const appPid = doc.dir
      ? Number(await fs.readFile(path.join(doc.dir, '.run', 'app.pid'), 'utf8').catch(() => '0'))
      : 0;
    onTestFinished(async () => {
      for (const p of [...servers.map((s) => s.pid), appPid]) {
        try {
          if (p > 0) process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await canary.remove();
    });
    expect(kept.code, kept.stderr).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.kept).toBe(true);
    expect(servers.map((s) => s.name).sort()).toEqual(['grafana', 'postgres', 'redis', 'vault']);
    for (const s of servers) expect(alive(s.pid), `${s.name} runs`).toBe(true);
    expect(alive(appPid), 'the app runs').toBe(true);

    const stop = await runToEnd('bash', [path.join(doc.dir ?? '', 'stop-demo.sh')], { env, cwd: canary.tmp });
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: '`rekey demo --store vault-kv --keep`, then `bash stop-demo.sh`',
      removedOwn:
        stop.code === 0 &&
        [...servers.map((s) => s.pid), appPid].every((p) => !alive(p)) &&
        (await canary.leftovers()).length === 0,
      keptOthers: await canary.intact(),
    });
    await canary.assertCanaries();
    expect(stop.code, stop.stderr).toBe(0);
    for (const s of servers) expect(alive(s.pid), `${s.name} stopped`).toBe(false);
    expect(alive(appPid), 'the app stopped').toBe(false);
    expect(existsSync(doc.dir ?? '')).toBe(false);
    expect(await canary.leftovers()).toEqual([]);
  }, 240_000);

  it('refuses an unknown store, starting nothing', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const env = { ...process.env, ...canary.env, NO_COLOR: '1' };
    const r = await runToEnd(process.execPath, [CLI, 'demo', '--store', 'aws-ssm'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_USAGE');
    expect(r.stderr).not.toContain('    at ');
    expect(await canary.leftovers()).toEqual([]);
  });
});
