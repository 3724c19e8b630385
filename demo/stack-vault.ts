/**
 * The demo stack's Vault variant (`rekey demo --store vault-kv`): the demo stack (demo/stack-setup.ts)
 * plus the Vault KV v2 stand-in (demo/stand-ins/main.ts) as its own process, started and stopped with
 * the stack. JWT_SECRET, API_SECRET_KEY (and their _PREVIOUS grace slots) and DEMO_USER_PASSWORD live
 * in one KV v2 secret, `secret/demo/app`, and no longer in the env file; the app reads them from Vault
 * at start (demo/app/vault.ts), so the deploy command — the same rolling restart — is what makes it
 * read the new values. rekey.yaml's `store:` names the secret; the root token is a file in `.run/`.
 * With `keep`, stop-demo.sh and `.run/pids` list the stand-in beside the other servers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, promises as fs, openSync } from 'node:fs';
import path from 'node:path';
import { envValues, parseEnv } from '../src/envfile/index.js';
import { writeFileAtomic } from '../src/lib/fsx.js';
import { freePort } from './stack/ports.js';
import {
  type DemoProcess,
  type DemoStack,
  processStarted,
  setUpDemoStack,
  writeStopFiles,
} from './stack-setup.js';

export interface VaultDemoStack extends DemoStack {
  readonly vaultUrl: string;
  /** The KV v2 secret's fields now (for the demo's probes; never printed). */
  vaultFields(): Promise<Map<string, string>>;
}

/** The keys that move from the env file into the KV v2 secret. */
export const VAULT_KEYS = [
  'JWT_SECRET',
  'JWT_SECRET_PREVIOUS',
  'API_SECRET_KEY',
  'API_SECRET_KEY_PREVIOUS',
  'DEMO_USER_PASSWORD',
] as const;
const MOUNT = 'secret';
const SECRET_PATH = 'demo/app';

/**
 * @example
 * const stack = await setUpVaultDemoStack({ repo, keep: false });
 * await stack.stop(); // the stand-in, the services, the folder
 */
export async function setUpVaultDemoStack(options: { repo: string; keep: boolean }): Promise<VaultDemoStack> {
  const stack = await setUpDemoStack({ repo: options.repo, keep: options.keep });
  const stopBase = stack.stop.bind(stack);
  let vault: ChildProcess | undefined;
  const stopVault = async () => {
    if (vault === undefined || vault.exitCode !== null || vault.signalCode !== null) return;
    const exited = new Promise((resolve) => vault?.once('exit', resolve));
    vault.kill('SIGTERM');
    await exited;
  };
  try {
    const tokenFile = path.join(stack.dir, '.run', 'vault-token');
    const token = randomBytes(24).toString('base64url');
    await fs.writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const log = openSync(path.join(stack.dir, '.run', 'vault.log'), 'a', 0o600);
    vault = spawn(
      process.execPath,
      [
        path.join(options.repo, 'dist/demo/stand-ins/main.js'),
        'vault-kv',
        '--token-file',
        tokenFile,
        '--port',
        String(port),
      ],
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', log, log], detached: true },
    );
    closeSync(log);
    if (options.keep) vault.unref();
    const vaultUrl = `http://127.0.0.1:${port}`;
    const vaultFetch = (p: string, init: RequestInit = {}) =>
      fetch(`${vaultUrl}/v1/${MOUNT}/data/${SECRET_PATH}${p}`, {
        ...init,
        headers: { 'x-vault-token': token, 'content-type': 'application/json' },
        signal: AbortSignal.timeout(5000),
      });
    await waitForVault(vaultUrl, token);

    // The secrets move from the env file into the KV v2 secret; the env file says where they are.
    const text = await fs.readFile(stack.envFile, 'utf8');
    const values = envValues(parseEnv(text));
    const data = Object.fromEntries(VAULT_KEYS.map((k) => [k, values.get(k) ?? '']));
    const seeded = await vaultFetch('', { method: 'POST', body: JSON.stringify({ data }) });
    await seeded.body?.cancel();
    if (!seeded.ok) throw new Error(`seeding the Vault stand-in: HTTP ${seeded.status}`);
    const moved = new Set<string>(VAULT_KEYS);
    const kept = text.split('\n').filter((line) => !moved.has(line.split('=')[0] ?? ''));
    // The env file still holds the other services' passwords: replaced atomically, 0600.
    await writeFileAtomic(
      stack.envFile,
      `${kept.join('\n').trimEnd()}\n# JWT_SECRET, API_SECRET_KEY and DEMO_USER_PASSWORD live in Vault (the app reads them at start)\nVAULT_ADDR=${vaultUrl}\nVAULT_KV_MOUNT=${MOUNT}\nVAULT_KV_PATH=${SECRET_PATH}\nVAULT_TOKEN_FILE=.run/vault-token\n`,
      { mode: 0o600, forceMode: true },
    );
    await fs.writeFile(path.join(stack.dir, 'rekey.yaml'), vaultConfig(options.repo, values, vaultUrl));
    // stop-demo.sh (--keep) stops the stand-in too, by pid and start time like the other servers.
    const pid = vault.pid ?? -1;
    const servers: DemoProcess[] = [
      { name: 'vault', pid, started: processStarted(pid), signal: 'TERM' },
      ...stack.servers,
    ];
    await writeStopFiles(options.repo, stack.dir, servers);
    return Object.assign(stack, {
      servers,
      vaultUrl,
      async vaultFields() {
        const res = await vaultFetch('');
        if (!res.ok) throw new Error(`reading the Vault stand-in: HTTP ${res.status}`);
        const body = (await res.json()) as { data: { data: Record<string, string> } };
        return new Map(Object.entries(body.data.data));
      },
      async stop() {
        await stopVault();
        await stopBase();
      },
    });
  } catch (error) {
    await stopVault().catch(() => {});
    await stack.stop().catch(() => {});
    throw error;
  }
}

async function waitForVault(url: string, token: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/v1/sys/mounts/${MOUNT}/tune`, {
        headers: { 'x-vault-token': token },
        signal: AbortSignal.timeout(1000),
      });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`the Vault stand-in did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** rekey.yaml of the Vault variant: the two app secrets in the KV v2 secret, the same deploy. */
function vaultConfig(repo: string, values: ReadonlyMap<string, string>, vaultUrl: string): string {
  const deploy = `bash ${JSON.stringify(path.join(repo, 'scripts/deploy.sh'))}`;
  const app = `http://127.0.0.1:${values.get('APP_PORT')}`;
  return `# The demo stack, Vault variant: the app's JWT secret and API key in a Vault KV v2 secret.
store: { type: vault-kv, address: "${vaultUrl}", mount: ${MOUNT}, path: ${SECRET_PATH}, tokenFile: .run/vault-token }
stack: demo-vault
policy: { maxAge: 90d, warnBefore: 14d, releaseMaxAge: 30d }
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }
deploy:
  command: ${deploy} deploy
  timeout: 2m
verify:
  - { name: App Health, http: "${app}/api/health", expect: 200 }
  - { name: Auth, login: { url: "${app}/api/auth/login", body: { username: analyst, password: "\${DEMO_USER_PASSWORD}" } }, jwtKey: JWT_SECRET }
verifyPolicy: { deadline: 60s, attemptTimeout: 5s, successes: 2 }
`;
}
