/**
 * `rekey demo --keep` prints where the stack runs, readable (hosts and ports are not secrets), and
 * those addresses work. Only the secrets are masked. The kept stack is stopped with its stop-demo.sh.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CLI } from '../engine/stack.js';
import { findLeak } from '../helpers/leak-forms.js';

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Stops the kept demo with its own `stop-demo.sh`: it stops the recorded pids and removes only the
 * folders the demo created and marked (test/demo/demo.test.ts proves it keeps everything else).
 */
async function stopKeptDemo(dir: string): Promise<void> {
  const r = spawnSync('bash', [path.join(dir, 'stop-demo.sh')], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
}

describe('rekey demo --keep', () => {
  it('prints the app, Grafana, PostgreSQL and Redis addresses unmasked, and they answer', async () => {
    const child = spawn(process.execPath, [CLI, 'demo', '--keep'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const dir = /^\s*folder\s+(\S+)/m.exec(stderr)?.[1] ?? /stack folder: (\S+)/.exec(stderr)?.[1];
    if (dir) onTestFinished(() => stopKeptDemo(dir));
    expect(code, stderr).toBe(0);
    expect(dir && existsSync(dir)).toBe(true);

    const kept = stderr.slice(stderr.indexOf('The stack keeps running'));
    expect(kept).not.toContain('[REDACTED');
    const app = /^\s*app\s+(http:\/\/\S+)/m.exec(kept)?.[1];
    const grafana = /^\s*grafana\s+(http:\/\/\S+)/m.exec(kept)?.[1];
    const ports = /postgres\s+127\.0\.0\.1:(\d+), redis 127\.0\.0\.1:(\d+)/.exec(kept);
    expect(app).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/health$/);
    expect(grafana).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(app!)).status).toBe(200);
    expect((await fetch(`${grafana}/api/health`)).status).toBe(200);
    expect(await tcpOpen(Number(ports?.[1]))).toBe(true);
    expect(await tcpOpen(Number(ports?.[2]))).toBe(true);
    // It ends with the dashboard's address: rekey serve of the kept stack, on loopback.
    const last = kept.trim().split('\n').at(-1) ?? '';
    const dashboard = /^\s*dashboard\s+(http:\/\/\S+)/.exec(last)?.[1];
    expect(dashboard, last).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await fetch(new URL('metrics', dashboard))).status).toBe(200);

    // ...and the secrets are still masked: no form of a secret value in what the demo printed.
    const env = await fs.readFile(path.join(dir!, '.env.production'), 'utf8');
    const secrets = [...env.matchAll(/^(?:export )?\w*(?:PASSWORD|SECRET|KEY)\w*="?([^"\s#]+)/gm)]
      .map((m) => m[1]!)
      .filter((v) => v.length >= 16);
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    expect(findLeak(secrets, [stderr])).toBeUndefined();
  }, 300_000);
});
