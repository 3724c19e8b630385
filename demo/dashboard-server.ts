/**
 * `rekey demo --keep`: `rekey serve` for the kept stack on a free loopback port, detached like the
 * stack's other servers, so the demo can end by printing the dashboard's URL and stop-demo.sh can
 * stop it by pid (and start time) with the rest. Its output goes to `.run/serve.log` in the stack.
 */
import { spawn } from 'node:child_process';
import { closeSync, promises as fs, openSync } from 'node:fs';
import path from 'node:path';
import { type DemoProcess, processStarted } from './stack-setup.js';

export interface DashboardServer extends DemoProcess {
  /** The dashboard: `http://127.0.0.1:<port>/`. */
  readonly url: string;
}

/**
 * Starts `node <cli> serve --host 127.0.0.1 --port 0` in `dir`; resolves once it printed where it
 * listens (within `timeoutMs`), else stops it and throws.
 *
 * @example
 * const serve = await startDashboard(cli, stack.dir, process.env);
 * console.log(serve.url);
 */
export async function startDashboard(
  cli: string,
  dir: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 15_000,
): Promise<DashboardServer> {
  const log = path.join(dir, '.run', 'serve.log');
  await fs.mkdir(path.dirname(log), { recursive: true });
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [cli, 'serve', '--host', '127.0.0.1', '--port', '0'], {
    cwd: dir,
    env: { ...env, NO_COLOR: '1' },
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid ?? -1;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await fs.readFile(log, 'utf8').catch(() => '');
    const m =
      /serving the dashboard on (http\S+)/.exec(text) ?? /serving Prometheus metrics on (http\S+)/.exec(text);
    if (m) {
      const url = new URL('/', m[1]).href;
      return { name: 'rekey-serve', pid, started: processStarted(pid), signal: 'TERM', url };
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      if (child.exitCode === null) child.kill('SIGTERM');
      throw new Error(`rekey serve did not start (see ${log})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
