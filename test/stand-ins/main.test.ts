/**
 * The stand-ins as processes (dist/demo/stand-ins/main.js): one JSON line with the URL once
 * listening, the real clients talk to them, faults and the request log through the control API,
 * a clean exit on SIGTERM; the Vault token comes from a file, never from argv.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/demo/stand-ins/main.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.splice(0).map((d) => removeOwnedDir(d)));
});

async function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

describe('stand-in processes', () => {
  it('serves Vault KV v2 with the token from a file, takes faults over HTTP, and stops on SIGTERM', async () => {
    const dir = await makeOwnedDir('rekey-standin-', { base: process.env.REKEY_STACK_TMPDIR ?? tmpdir() });
    dirs.push(dir);
    await writeFile(path.join(dir, 'token'), 'token-canary-main\n', { mode: 0o600 });
    const { child, url } = await start(['vault-kv', '--token-file', path.join(dir, 'token')]);
    expect(child.spawnargs.join(' ')).not.toContain('token-canary-main');
    const vault = await VaultClient.connect({ address: url }, { env: { VAULT_TOKEN: 'token-canary-main' } });
    expect(await vault.write('secret', 'app', { A: 'value-1' }, 0)).toBe(1);
    await fetch(`${url}/__stand-in/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'conflict', op: 'vault.write' }),
    });
    await expect(vault.write('secret', 'app', { A: 'value-2' }, 1)).rejects.toMatchObject({
      code: 'ERR_STORE_CONFLICT',
    });
    const log = (await (await fetch(`${url}/__stand-in/log`)).json()) as { op: string; fault?: string }[];
    expect(log.map((r) => [r.op, r.fault])).toEqual([
      ['vault.write', undefined],
      ['vault.write', 'conflict'],
    ]);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('serves SSM to the real SDK', async () => {
    const { child, url } = await start(['aws-ssm', '--region', 'eu-west-1']);
    const sdk = new SSMClient({
      region: 'eu-west-1',
      endpoint: url,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' },
    });
    await sdk.send(new PutParameterCommand({ Name: '/a/B', Value: 'v', Type: 'SecureString' }));
    expect(
      (await sdk.send(new GetParameterCommand({ Name: '/a/B', WithDecryption: true }))).Parameter?.Value,
    ).toBe('v');
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('refuses an unknown service or a missing token file with exit 2', async () => {
    const child = spawn(process.execPath, [MAIN, 'vault-kv'], { stdio: 'ignore' });
    children.push(child);
    expect(await exited(child)).toBe(2);
  });
});
