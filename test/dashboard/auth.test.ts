/**
 * Who may read the dashboard: the bearer token on every route (`/`, `/api/*`, `/metrics`), HTTPS with
 * a certificate made here by `openssl req`, and, through the built CLI, the refusals (exit 2, a code,
 * what and what to do): a non-loopback address without a token or TLS, half a TLS pair, a certificate
 * with the wrong key.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serveDashboard } from '../../src/dashboard/serve.js';
import { silentLogger } from '../../src/lib/log.js';
import type { MetricsServer } from '../../src/policy/server.js';
import { useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();
const TOKEN = 'd4shb0ard-t0ken-5e1ec7ab1e5ca1ab1e';

let servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** A self-signed certificate for 127.0.0.1 and its key (and a second, unrelated key), made by openssl. */
async function certificate(dir: string): Promise<{ cert: string; key: string; otherKey: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const otherKey = path.join(dir, 'other-key.pem');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'pipe' },
  );
  execFileSync(
    'openssl',
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', otherKey],
    { stdio: 'pipe' },
  );
  await Promise.all([key, otherKey].map((f) => fs.chmod(f, 0o600)));
  return { cert, key, otherKey };
}

/** GET over HTTPS trusting only `ca`. */
function httpsGet(
  url: string,
  ca: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('rekey serve: access to the dashboard', { timeout: 180_000 }, () => {
  it('with --token-file every route needs the bearer token: 401 and WWW-Authenticate without it or with a wrong one', async () => {
    const s = await stack();
    const tokenFile = path.join(s.dir, 'dashboard-token');
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const server = await serveDashboard({
      configPath: path.join(s.dir, 'rekey.yaml'),
      host: '127.0.0.1',
      port: 0,
      tokenFile,
      log: silentLogger,
    });
    servers.push(server);
    for (const route of ['', 'index.html', 'api/status', 'api/rotations', 'metrics', 'dashboard.css']) {
      const url = `${server.root}${route}`;
      for (const headers of [
        {} as Record<string, string>,
        { authorization: 'Bearer wrong' },
        { authorization: `Bearer ${TOKEN}x` },
      ]) {
        const r = await fetch(url, { headers });
        expect(r.status, `${route} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
        expect(await r.text()).not.toContain('rekey_secret');
      }
      const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status, route).toBe(200);
    }
    const page = await (await fetch(server.root, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(page).toContain('id="secrets"');
    expect(page).not.toContain(TOKEN);

    // A token file others can read is served, with a warning (as the env file is).
    await fs.chmod(tokenFile, 0o644);
    const warnings: string[] = [];
    const open = await serveDashboard({
      configPath: path.join(s.dir, 'rekey.yaml'),
      host: '127.0.0.1',
      port: 0,
      tokenFile,
      log: { ...silentLogger, warn: (m: string) => warnings.push(m) },
    });
    servers.push(open);
    expect(warnings).toEqual([`${tokenFile} is readable by other users: chmod 600 it`]);
  });

  it('serves HTTPS with the given certificate and key', async () => {
    const s = await stack();
    const { cert, key } = await certificate(s.dir);
    const server = await serveDashboard({
      configPath: path.join(s.dir, 'rekey.yaml'),
      host: '127.0.0.1',
      port: 0,
      tlsCert: cert,
      tlsKey: key,
      log: silentLogger,
    });
    servers.push(server);
    expect(server.root).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const ca = await fs.readFile(cert);
    const page = await httpsGet(server.root, ca);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="secrets"');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect((await httpsGet(`${server.root}api/status`, ca)).status).toBe(200);
    // Plain HTTP on the TLS port gets no page.
    await expect(fetch(server.root.replace('https:', 'http:'))).rejects.toThrow();
  });

  it('the CLI refuses a non-loopback address without a token or TLS, half a TLS pair and a wrong key (exit 2); serves HTTPS with a token on 0.0.0.0', async () => {
    const s = await stack();
    const { cert, key, otherKey } = await certificate(s.dir);
    const cases: Array<[string[], string, RegExp]> = [
      [
        ['--host', '0.0.0.0'],
        'ERR_SERVE_UNPROTECTED',
        /refusing to serve metrics and the dashboard on 0\.0\.0\.0/,
      ],
      [['--host', '::'], 'ERR_SERVE_UNPROTECTED', /on :: without authentication/],
      [['--tls-cert', cert], 'ERR_SERVE_TLS', /--tls-cert was given without --tls-key/],
      [['--tls-key', key], 'ERR_SERVE_TLS', /--tls-key was given without --tls-cert/],
      [
        ['--tls-cert', cert, '--tls-key', otherKey],
        'ERR_SERVE_TLS',
        /are not a PEM certificate and its private key/,
      ],
      [
        ['--tls-cert', path.join(s.dir, 'nope.pem'), '--tls-key', key],
        'ERR_SERVE_TLS',
        /cannot read .*nope\.pem: ENOENT/,
      ],
    ];
    for (const [args, code, what] of cases) {
      const r = await s.run(['serve', '--port', '0', ...args]);
      record({
        kind: 'bad-input',
        suite: 'dashboard',
        case: `rekey serve ${args.map((a) => path.basename(a)).join(' ')}`,
        exit: r.code,
        code,
        unchanged: r.stdout === '',
      });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(code);
      expect(r.stderr).toMatch(what);
      expect(r.stderr).toMatch(/--token-file|--tls-cert/); // what to do
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }

    const tokenFile = path.join(s.dir, 'dashboard-token');
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const server = s.start([
      'serve',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--token-file',
      tokenFile,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    try {
      let err = '';
      const root = await new Promise<string>((resolve, reject) => {
        server.child.stderr?.on('data', (b) => {
          err += b;
          const m = /serving the dashboard on (\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        server.done.then((r) => reject(new Error(`serve exited ${r.code}: ${r.stderr}`)));
      });
      expect(root).toMatch(/^https:\/\/0\.0\.0\.0:\d+\/$/);
      const url = root.replace('0.0.0.0', '127.0.0.1');
      const ca = await fs.readFile(cert);
      expect((await httpsGet(url, ca)).status).toBe(401);
      const ok = await httpsGet(url, ca, { authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('id="timeline"');
    } finally {
      server.child.kill('SIGTERM');
    }
    const done = await server.done;
    expect(done.code).toBe(0);
    expect(done.stderr).not.toContain(TOKEN);
  });
});
