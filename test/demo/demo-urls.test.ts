/**
 * `rekey demo --keep` prints where the stack runs, readable (hosts and ports are not secrets), and
 * those addresses work. Only the secrets are masked. The kept stack is stopped by the pids it
 * recorded (not with stop-demo.sh); only the folders the demo itself created are removed.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
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

async function stopPid(pid: number, signal: NodeJS.Signals): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 150; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Stops what the kept demo started, by pid, and removes only the folders it created. */
async function stopKeptDemo(dir: string): Promise<void> {
  const base = path.resolve(process.env.REKEY_STACK_TMPDIR ?? os.tmpdir());
  const own = (p: string, prefix: string) =>
    path.dirname(p) === base &&
    path.basename(p).startsWith(prefix) &&
    path.basename(p).length > prefix.length;
  const app = await fs.readFile(path.join(dir, '.run', 'app.pid'), 'utf8').catch(() => '');
  if (/^\d+\s*$/.test(app)) await stopPid(Number(app), 'SIGTERM');
  const lines = (await fs.readFile(path.join(dir, '.run', 'pids'), 'utf8').catch(() => '')).split('\n');
  const dirs: string[] = [];
  for (const line of lines) {
    const [name, pid, extra] = line.split(' ');
    if (!name || !/^\d+$/.test(pid ?? '')) continue;
    await stopPid(Number(pid), name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    // The server folders the demo made with mkdtemp: <tmp>/rekey-pg-XXXXXX (holding data/) and
    // <tmp>/rekey-redis-XXXXXX. Never their parent.
    if (
      name === 'postgres' &&
      extra &&
      path.basename(extra) === 'data' &&
      own(path.dirname(extra), 'rekey-pg-')
    )
      dirs.push(path.dirname(extra));
    if (name === 'redis' && extra && own(extra, 'rekey-redis-')) dirs.push(extra);
  }
  if (own(dir, 'rekey-demo-')) dirs.push(dir);
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
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

    // ...and the secrets are still masked: no form of a secret value in what the demo printed.
    const env = await fs.readFile(path.join(dir!, '.env.production'), 'utf8');
    const secrets = [...env.matchAll(/^(?:export )?\w*(?:PASSWORD|SECRET|KEY)\w*="?([^"\s#]+)/gm)]
      .map((m) => m[1]!)
      .filter((v) => v.length >= 16);
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    expect(findLeak(secrets, [stderr])).toBeUndefined();
  }, 300_000);
});
