/**
 * The store clients against the stand-ins: the Vault client's credential sources (VAULT_TOKEN, a
 * token file, AppRole) and errors (one line, never a token or a value), and the AWS client factory's
 * retry policy (throttling and 5xx retried by the SDK's standard strategy within a bounded time,
 * access denied never retried; AWS_ENDPOINT_URL honoured).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { type SsmStandIn, startSsmStandIn } from '../../demo/stand-ins/ssm.js';
import { startVaultStandIn, type VaultStandIn } from '../../demo/stand-ins/vault-kv.js';
import { isRekeyError } from '../../src/lib/errors.js';
import { awsCall, ssmClient } from '../../src/stores/aws/clients.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tmp(): Promise<string> {
  const dir = await mkdtemp(path.join(process.env.REKEY_STACK_TMPDIR ?? tmpdir(), 'rekey-clients-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function vault(options: Parameters<typeof startVaultStandIn>[0] = {}): Promise<VaultStandIn> {
  const v = await startVaultStandIn({ tokens: { 'token-canary-1234': 'root' }, ...options });
  cleanups.push(() => v.close());
  return v;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function caught(p: Promise<unknown>): Promise<Error & { code?: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('VaultClient credentials and errors', () => {
  it('takes the token from a token file before VAULT_TOKEN', async () => {
    const v = await vault();
    const dir = await tmp();
    await writeFile(path.join(dir, 'token'), 'token-canary-1234\n', { mode: 0o600 });
    const c = await VaultClient.connect(
      { address: v.url, tokenFile: path.join(dir, 'token') },
      { env: { VAULT_TOKEN: 'wrong-token' } },
    );
    expect(await c.write('secret', 'p', { A: 'value-canary-aa' }, 0)).toBe(1);
  });

  it('refuses without an address or a token, naming what to set', async () => {
    const home = process.env.HOME;
    process.env.HOME = await tmp(); // no ~/.vault-token there
    cleanups.push(async () => {
      process.env.HOME = home;
    });
    expect(await caught(VaultClient.connect({}, { env: {} }))).toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
    });
    const e = await caught(VaultClient.connect({ address: 'http://127.0.0.1:1' }, { env: {} }));
    expect(e).toMatchObject({ code: 'ERR_STORE_AUTH' });
    expect(e.hint).toContain('VAULT_TOKEN');
  });

  it('logs in with AppRole (secret_id from a file); a wrong secret_id is ERR_STORE_AUTH without echoing it', async () => {
    const v = await vault({
      appRoles: [{ roleId: 'role-1', secretId: 'secret-id-canary-77', policy: 'root' }],
    });
    const dir = await tmp();
    await writeFile(path.join(dir, 'sid'), 'secret-id-canary-77\n', { mode: 0o600 });
    const c = await VaultClient.connect(
      { address: v.url, appRole: { roleId: 'role-1', secretIdFile: path.join(dir, 'sid') } },
      { env: {} },
    );
    expect(await c.write('secret', 'p', { A: 'x' }, 0)).toBe(1);

    await writeFile(path.join(dir, 'bad'), 'secret-id-wrong-88\n', { mode: 0o600 });
    const bad = await VaultClient.connect(
      { address: v.url, appRole: { roleId: 'role-1', secretIdFile: path.join(dir, 'bad') } },
      { env: {} },
    );
    const e = await caught(bad.read('secret', 'p'));
    expect(e).toMatchObject({ code: 'ERR_STORE_AUTH' });
    expect(`${e.message} ${e.hint}`).not.toContain('secret-id-wrong-88');
  });

  it('never puts a token or a value in an error', async () => {
    const v = await vault({
      tokens: { 'token-canary-1234': 'root', 'limited-canary-5678': { 'secret/data/x': ['read'] } },
    });
    const root = await VaultClient.connect({ address: v.url }, { env: { VAULT_TOKEN: 'token-canary-1234' } });
    await root.write('secret', 'x', { A: 'value-canary-bb' }, 0);
    const limited = await VaultClient.connect(
      { address: v.url },
      { env: { VAULT_TOKEN: 'limited-canary-5678' } },
    );
    const errors = [
      await caught(limited.write('secret', 'x', { A: 'value-canary-cc' }, 1)),
      await caught(root.write('secret', 'x', { A: 'value-canary-dd' }, 0)),
    ];
    expect(errors.map((e) => e.code)).toEqual(['ERR_STORE_AUTH', 'ERR_STORE_CONFLICT']);
    for (const e of errors) {
      const text = `${e.message}\n${(e as { hint?: string }).hint}\n${JSON.stringify(e)}`;
      expect(text).not.toMatch(/canary-(1234|5678|bb|cc|dd)/);
      expect(e.message.split('\n')).toHaveLength(1);
    }
  });

  it('gives up on an unreachable Vault after bounded retries', async () => {
    const port = await closedPort();
    const c = await VaultClient.connect(
      { address: `http://127.0.0.1:${port}` },
      { env: { VAULT_TOKEN: 't' }, backoffMs: 10 },
    );
    const e = await caught(c.read('secret', 'p'));
    expect(e).toMatchObject({ code: 'ERR_STORE_UNREACHABLE' });
    expect(e.message).toMatch(/after 4 attempt\(s\): ECONNREFUSED/);
  });

  it('gives up on a Vault that keeps answering 503 within its time bound', async () => {
    const v = await vault();
    v.faults.add({ kind: 'error500', op: 'vault.read', count: 100 });
    const c = await VaultClient.connect(
      { address: v.url },
      { env: { VAULT_TOKEN: 'token-canary-1234' }, timeoutMs: 400, backoffMs: 50, attempts: 100 },
    );
    const t0 = Date.now();
    expect(await caught(c.read('secret', 'p'))).toMatchObject({ code: 'ERR_STORE_UNREACHABLE' });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});

describe('AWS clients', () => {
  const creds = { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'stand-in-secret' };
  async function ssm(options: Parameters<typeof startSsmStandIn>[0] = {}): Promise<SsmStandIn> {
    const s = await startSsmStandIn({ region: 'eu-west-1', ...options });
    cleanups.push(() => s.close());
    return s;
  }
  const putCmd = (Value: string) =>
    new PutParameterCommand({ Name: '/r/A', Value, Type: 'SecureString', Overwrite: true });

  it('retries throttling and 5xx, then succeeds', async () => {
    const s = await ssm();
    const client = ssmClient({ region: 'eu-west-1', endpoint: s.url, credentials: creds });
    s.faults.add({ kind: 'throttle', op: 'PutParameter', count: 2 });
    s.faults.add({ kind: 'error500', op: 'PutParameter' });
    const out = await awsCall('aws-ssm', 'PutParameter /r/A', (abortSignal) =>
      client.send(putCmd('v'), { abortSignal }),
    );
    expect(out.Version).toBe(1);
    expect(s.log().map((r) => r.status)).toEqual([400, 400, 500, 200]);
  });

  it('stops after maxAttempts of throttling with ERR_STORE_UNREACHABLE', async () => {
    const s = await ssm();
    const client = ssmClient({ region: 'eu-west-1', endpoint: s.url, credentials: creds, maxAttempts: 3 });
    s.faults.add({ kind: 'throttle', op: 'PutParameter', count: 100 });
    const e = await caught(
      awsCall('aws-ssm', 'PutParameter /r/A', (abortSignal) =>
        client.send(putCmd('value-canary-ee'), { abortSignal }),
      ),
    );
    expect(e).toMatchObject({
      code: 'ERR_STORE_UNREACHABLE',
      message: 'aws-ssm: PutParameter /r/A: ThrottlingException (HTTP 400)',
    });
    expect(s.log()).toHaveLength(3);
  });

  it('bounds the total time of a call, retries included', async () => {
    const s = await ssm();
    const client = ssmClient({ region: 'eu-west-1', endpoint: s.url, credentials: creds });
    s.faults.latencyMs = 2_000;
    const t0 = Date.now();
    const e = await caught(
      awsCall(
        'aws-ssm',
        'GetParameter /r/A',
        (abortSignal) => client.send(new GetParameterCommand({ Name: '/r/A' }), { abortSignal }),
        [],
        300,
      ),
    );
    expect(e).toMatchObject({ code: 'ERR_STORE_UNREACHABLE' });
    expect(Date.now() - t0).toBeLessThan(1_500);
    s.faults.latencyMs = 0;
  });

  it('never retries access denied', async () => {
    const s = await ssm({ deny: { AKIDSTANDIN: ['PutParameter'] } });
    const client = ssmClient({ region: 'eu-west-1', endpoint: s.url, credentials: creds });
    const e = await caught(
      awsCall('aws-ssm', 'PutParameter /r/A', (abortSignal) =>
        client.send(putCmd('value-canary-ff'), { abortSignal }),
      ),
    );
    expect(e).toMatchObject({
      code: 'ERR_STORE_AUTH',
      message: 'aws-ssm: PutParameter /r/A: AccessDeniedException',
    });
    expect(isRekeyError(e)).toBe(true);
    expect(s.log()).toHaveLength(1);
    expect(`${e.message}${(e as { hint?: string }).hint}`).not.toContain('value-canary-ff');
  });

  it('finds the endpoint in AWS_ENDPOINT_URL when none is configured', async () => {
    const s = await ssm();
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = s.url;
    cleanups.push(async () => {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    });
    const client = ssmClient({ region: 'eu-west-1', credentials: creds });
    await client.send(putCmd('v'));
    expect(s.log()).toHaveLength(1);
  });
});

describe('clear text and redirects', () => {
  it('refuses plain http to a Vault or an AWS endpoint off this machine', async () => {
    await expect(
      VaultClient.connect({ address: 'http://vault.example.com:8200' }, { env: { VAULT_TOKEN: 't' } }),
    ).rejects.toMatchObject({ code: 'ERR_STORE_UNSUITABLE', message: expect.stringMatching(/clear text/) });
    expect(() => ssmClient({ region: 'eu-west-1', endpoint: 'http://10.0.0.8' })).toThrow(/clear text/);
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://ssm.internal';
    cleanups.push(async () => {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    });
    expect(() => ssmClient({ region: 'eu-west-1' })).toThrow(/clear text/);
    expect(() => ssmClient({ region: 'eu-west-1', endpoint: 'http://[::1]:4566' })).not.toThrow();
  });

  it('never follows a redirect with the token', async () => {
    const { createServer: createHttp } = await import('node:http');
    const seen: string[] = [];
    const elsewhere = createHttp((req, res) => {
      seen.push(String(req.headers['x-vault-token'] ?? 'none'));
      res.end('{}');
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', () => r()));
    const target = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}`;
    const redirecting = createHttp((req, res) => {
      res.writeHead(307, { location: `${target}${req.url}` });
      res.end();
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', () => r()));
    cleanups.push(async () => {
      elsewhere.close();
      redirecting.close();
    });
    const c = await VaultClient.connect(
      { address: `http://127.0.0.1:${(redirecting.address() as { port: number }).port}` },
      { env: { VAULT_TOKEN: 'token-canary-redirect' } },
    );
    await expect(c.read('secret', 'p')).rejects.toMatchObject({
      code: 'ERR_STORE_UNSUITABLE',
      message: expect.stringMatching(/redirect/),
    });
    expect(seen).toEqual([]);
  });
});
