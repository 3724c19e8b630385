/**
 * `rekey demo --store vault-kv|aws-ssm|aws-secretsmanager` end to end, once per store: the app reads
 * every secret of the stack from the store's stand-in (AWS: through the official SDK v3 clients) and
 * rekey rotates all five there (PostgreSQL on alternating roles);
 * the scheduled rotation under traffic fails no request; grace and compromise behave as in the
 * env-file demo; the canary scans (rekey's output, the app log, the stand-in's request log) find no
 * value; every process stopped and the folder removed (a canary file beside it kept); with --keep,
 * stop-demo.sh stops the stand-in with the other servers. Heavy: run one store at a time with
 * `-t aws-ssm` and REKEY_STACK_TMPDIR=/dev/shm.
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

const STORES = [
  { store: 'vault-kv', title: 'Vault' },
  // SSM holds no empty value: the compromise rotation's emptied grace slots are deleted parameters.
  { store: 'aws-ssm', title: 'SSM Parameter Store' },
  { store: 'aws-secretsmanager', title: 'Secrets Manager' },
] as const;

describe.each(STORES)('rekey demo --store $store', ({ store, title }) => {
  it('rotates the secrets the app reads from the store with 0 failed requests, no value leaked, and tears down', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const { code, stdout, stderr } = await runToEnd(
      process.execPath,
      [CLI, 'demo', '--store', store, '--json'],
      { env: { ...process.env, ...canary.env, NO_COLOR: '1' } },
    );
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: `\`rekey demo --store ${store}\` tears down (the ${title} stand-in included)`,
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
    // Every secret of the stack lives in the store and is rotated there.
    for (const what of [
      'JWT secret',
      'API key',
      'PostgreSQL password',
      'Redis password',
      'Grafana admin password',
    ])
      expect(actual(new RegExp(`^${title} holds a new ${what}`)), what).toBe('changed');
    expect(actual(/PostgreSQL accepts the new login \(role app_blue/)).toBe('accepted');
    expect(actual(/PostgreSQL login from before still works \(grace: alternating roles, app_green/)).toBe(
      'accepted',
    );
    expect(actual(/Redis rejects the old password/)).toBe('WRONGPASS');
    expect(actual(/Redis accepts the new password/)).toBe('PONG');
    expect(actual(/Grafana rejects the old admin password/)).toBe(401);
    expect(actual(/Grafana accepts the new admin password/)).toBe(200);
    expect(actual(/during the rotation \(\d+\) that failed/)).toBe(0);
    expect(doc.claims.find((c) => /during the rotation/.test(c.claim))?.claim).not.toMatch(/\(0\)/);
    expect(actual(/token issued before the rotation still works/)).toBe(200);
    expect(actual(/old API key still works/)).toBe(200);
    expect(actual(/new API key works/)).toBe(200);
    expect(actual(/token from before both rotations is rejected/)).toBe(401);
    expect(actual(/previous API key is rejected/)).toBe(401);
    expect(actual(/PostgreSQL login from before \(role app_blue\) is rejected/)).toBe('28P01');
    expect(actual(/sessions from before were purged/)).toBe(0);
    expect(actual(/eviction report: Redis keeps only the new password/)).toBe('removed, removed');
    expect(actual(/new login works/)).toBe(200);
    expect(actual(/secret values in what the rekey commands printed/)).toBe(0);
    expect(actual(/secret values in the app log/)).toBe(0);
    expect(actual(new RegExp(`secret values in the ${title} stand-in's request log`))).toBe(0);
    expect(doc.claims.filter((c) => !c.ok).map((c) => c.claim)).toEqual([]);
    expect(doc.ok).toBe(true);
    expect(doc.commands.map((c) => `${c.args[0]} ${c.exitCode}`)).toEqual([
      'rotate 0',
      'verify 0',
      'rotate 0',
      'status 0',
    ]);
    expect(existsSync(doc.dir)).toBe(false);
    await canary.assertCanaries();
    expect(await canary.leftovers()).toEqual([]);
  }, 240_000);

  it('--keep leaves the stack running, the stand-in included; stop-demo.sh stops it all', async () => {
    const canary = await canaryTmp();
    const env = { ...process.env, ...canary.env, NO_COLOR: '1' };
    const kept = await runToEnd(process.execPath, [CLI, 'demo', '--store', store, '--keep', '--json'], {
      env,
    });
    const doc = JSON.parse(kept.stdout || '{}') as {
      ok?: boolean;
      dir?: string;
      kept?: boolean;
      dashboard?: string;
    };
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
    expect(servers.map((s) => s.name).sort()).toEqual(
      ['grafana', 'postgres', 'redis', 'rekey-serve', store].sort(),
    );
    for (const s of servers) expect(alive(s.pid), `${s.name} runs`).toBe(true);
    expect(alive(appPid), 'the app runs').toBe(true);
    // The dashboard of a store stack: rekey serve resolves the config's store-held names.
    const page = await fetch(doc.dashboard ?? 'http://127.0.0.1:1/no-dashboard-url');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('JWT_SECRET');

    const stop = await runToEnd('bash', [path.join(doc.dir ?? '', 'stop-demo.sh')], { env, cwd: canary.tmp });
    record({
      kind: 'cleanup',
      suite: 'demo',
      case: `\`rekey demo --store ${store} --keep\`, then \`bash stop-demo.sh\``,
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
});

describe('rekey demo --store', () => {
  it('refuses an unknown store, starting nothing', async () => {
    const canary = await canaryTmp();
    onTestFinished(() => canary.remove());
    const env = { ...process.env, ...canary.env, NO_COLOR: '1' };
    const r = await runToEnd(process.execPath, [CLI, 'demo', '--store', 'kubernetes'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ERR_USAGE');
    expect(r.stderr).toContain('vault-kv, aws-ssm, aws-secretsmanager');
    expect(r.stderr).not.toContain('    at ');
    expect(await canary.leftovers()).toEqual([]);
  });
});
