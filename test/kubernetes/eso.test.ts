/**
 * External Secrets Operator next to a kubernetes deploy, end to end through the built CLI: the store
 * is the Vault KV stand-in (ESO's source), the Secret the workloads read is written by the Kubernetes
 * API stand-in's fake ESO (demo/stand-ins/eso.ts) from Vault's current data when rekey sets
 * `force-sync` on the ExternalSecret. rekey writes Vault, forces the sync, waits for the Secret, then
 * restarts; a sync that never comes, or a SecretSyncedError, rolls back: Vault restored, force-sync
 * again, the Secret old again, restarted again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { EsoSync, TemplateChange } from '../../demo/stand-ins/kubernetes.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { VaultClient } from '../../src/stores/vault-kv/client.js';
import { findLeak } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { filesUnder, INITIAL, KEYS, type KubeStack, makeKubeStack } from './kube-stack.js';

const SUITE = 'deploy kubernetes + External Secrets Operator, store vault-kv (stand-ins, built CLI)';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STAND_IN = path.join(ROOT, 'dist/demo/stand-ins/main.js');
const VAULT_TOKEN = 'vault-root-canary-eso-5b1c';
const ES = 'bi-secrets-es';

interface EsoStack {
  readonly k: KubeStack;
  readonly vault: ChildProcess;
  readonly vaultUrl: string;
  values(): Promise<Record<string, string | undefined>>;
  syncs(): Promise<EsoSync[]>;
  changes(): Promise<TemplateChange[]>;
  esPatches(): Promise<number>;
  /** The Vault stand-in's request log (path, op, body). */
  vaultLog(): Promise<{ path: string; op: string; body: string }[]>;
  stop(): Promise<void>;
}

async function startVault(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [STAND_IN, 'vault-kv', '--token-file', path.join(dir, 'vault-token')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`vault stand-in exited ${code}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

async function makeEsoStack(
  timeout = '20s',
  workloads?: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Promise<EsoStack> {
  // The Vault stand-in first: its address goes into rekey.yaml.
  const tmp = await makeOwnedDir('rekey-eso-vault-', { base: process.env.REKEY_STACK_TMPDIR ?? os.tmpdir() });
  await fs.writeFile(path.join(tmp, 'vault-token'), `${VAULT_TOKEN}\n`, { mode: 0o600 });
  const { child: vault, url: vaultUrl } = await startVault(tmp);
  const client = await VaultClient.connect({ address: vaultUrl }, { env: { VAULT_TOKEN } });
  await client.write('secret', 'bi/production', { ...INITIAL }, 0);
  const k = await makeKubeStack({
    timeout,
    store: `store: { type: vault-kv, address: "${vaultUrl}", mount: secret, path: bi/production, tokenFile: vault-token }`,
    externalSecret: ES,
    ...(workloads === undefined ? {} : { workloads }),
  });
  await fs.writeFile(path.join(k.dir, 'vault-token'), `${VAULT_TOKEN}\n`, { mode: 0o600 });
  await k.control('eso', {
    mode: 'sync',
    delayMs: 300,
    vault: { url: vaultUrl, token: VAULT_TOKEN, mount: 'secret', path: 'bi/production' },
  });
  const get = async <T>(route: string) =>
    (await (await fetch(`${k.url}/__stand-in/kubernetes/${route}`)).json()) as T;
  return {
    k,
    vault,
    vaultUrl,
    async values() {
      const v = await client.read('secret', 'bi/production');
      return { ...(v?.data ?? {}) } as Record<string, string | undefined>;
    },
    syncs: () => get<EsoSync[]>('eso-syncs'),
    changes: () => k.templateChanges(),
    async esPatches() {
      return (await k.log()).filter((l) => l.op === 'externalsecrets.patch').length;
    },
    async vaultLog() {
      return (await (await fetch(`${vaultUrl}/__stand-in/log`)).json()) as {
        path: string;
        op: string;
        body: string;
      }[];
    },
    async stop() {
      await k.stop();
      if (vault.exitCode === null) {
        const exited = new Promise((r) => vault.once('exit', r));
        vault.kill('SIGTERM');
        await exited;
      }
      await removeOwnedDir(tmp);
    },
  };
}

/** Runs `rotate`, pausing at the rollback's deploy so the test can heal the fake ESO, then resumes. */
async function rotateHealingAtRollback(s: EsoStack) {
  const pause = path.join(s.k.dir, 'pause');
  const run = s.k.start(['rotate', '--yes'], {
    REKEY_PAUSE_AT: 'rollback-deploy@begin',
    REKEY_PAUSE_FILE: pause,
  });
  for (let i = 0; i < 1200 && !(await fs.stat(pause).catch(() => undefined)); i++)
    await new Promise((r) => setTimeout(r, 50));
  const reached = await fs.stat(pause).then(
    () => true,
    () => false,
  );
  // The store is restored by now: ESO syncs again (the old values).
  const vaultNow = await s.values();
  await s.k.control('eso', { mode: 'sync', delayMs: 300 });
  if (reached) await fs.rm(pause);
  return { r: await run.done, reached, vaultAtRollback: vaultNow };
}

describe('Kubernetes deploy with External Secrets Operator (store vault-kv)', () => {
  const stacks: EsoStack[] = [];
  const open = async (
    timeout?: string,
    workloads?: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ) => {
    const s = await makeEsoStack(timeout, workloads);
    stacks.push(s);
    return s;
  };

  afterAll(async () => {
    const seen = new Set<string>(KEYS.map((key) => INITIAL[key]!));
    const texts: string[] = [];
    for (const s of stacks) {
      for (const v of Object.values(await s.values())) if (v) seen.add(v);
      const { data } = await s.k.secret();
      for (const key of KEYS) if (data[key]) seen.add(data[key]!);
      for (const r of s.k.results) texts.push(r.stdout, r.stderr);
      texts.push(...(await filesUnder(path.join(s.k.dir, '.rekey'))));
      // The Kubernetes API requests (the fake ESO's Secret writes are not requests: nothing aside).
      texts.push(...(await s.k.log()).map((l) => `${l.path} ${l.body}`));
      // Vault's: rekey's store writes (the values themselves) aside.
      const vlog = await s.vaultLog();
      expect(vlog.some((l) => l.op === 'vault.write')).toBe(true);
      texts.push(...vlog.filter((l) => l.op !== 'vault.write').map((l) => `${l.path} ${l.body}`));
      await s.stop();
    }
    expect(findLeak(seen, texts)).toBeUndefined();
  });

  it('plan says what rekey does with the ExternalSecret', async () => {
    const s = await open();
    const plan = await s.k.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (JSON.parse(plan.stdout) as { steps: { id: string; title: string }[] }).steps;
    expect(steps.find((st) => st.id === 'deploy')?.title).toBe(
      `ExternalSecret ${ES}: rekey writes the source store, forces a sync, waits for Secret bi-secrets, then restarts deployment/bi-api, then statefulset/bi-worker (namespace bi), each rolled out before the next, within 20s`,
    );
  });

  it('rotate: Vault written, sync forced, the Secret gets the new values, then each workload restarted once', async () => {
    const s = await open();
    const fromSyncs = (await s.syncs()).length;
    const fromChanges = (await s.changes()).length;
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).not.toBe(INITIAL[key]);
      expect(data[key]).toBe(vault[key]);
    }
    expect(data.DATABASE_HOST).toBe(INITIAL.DATABASE_HOST);
    const syncs = (await s.syncs()).slice(fromSyncs);
    expect(syncs.map((x) => x.result)).toEqual(['synced']);
    const changes = (await s.changes()).slice(fromChanges);
    expect(changes.map((c) => `${c.by} ${c.kind}/${c.name}`)).toEqual([
      'api deployment/bi-api',
      'api statefulset/bi-worker',
    ]);
    // Restarted after the sync, not before (the new pods read the new values).
    expect(changes[0]!.at).toBeGreaterThanOrEqual(syncs[0]!.at);
    expect(await s.esPatches()).toBe(1);
    // The current API version first (ESO serves v1 since 0.17; later releases drop v1beta1).
    const esPaths = (await s.k.log()).map((l) => l.path).filter((p) => p.includes('/externalsecrets/'));
    expect(esPaths.length).toBeGreaterThan(0);
    for (const p of esPaths) expect(p).toContain('/apis/external-secrets.io/v1/');
    record({
      kind: 'concurrency',
      suite: SUITE,
      case: 'rotate with the Secret synced by ESO from Vault',
      ok: true,
      detail:
        'Vault written, force-sync, Secret synced with the new values, then each workload restarted once',
    });
  });

  it('an ESO that serves only v1beta1 (before 0.17): rekey falls back to it', async () => {
    const s = await open();
    await s.k.control('eso-versions', { versions: ['v1beta1'] });
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).not.toBe(INITIAL[key]);
      expect(data[key]).toBe(vault[key]);
    }
    expect(await s.esPatches()).toBe(1);
    const esPaths = (await s.k.log()).map((l) => l.path).filter((p) => p.includes('/externalsecrets/'));
    expect(esPaths.some((p) => p.includes('/apis/external-secrets.io/v1beta1/'))).toBe(true);
  });

  it('with Stakater Reloader: ESO writes the Secret, Reloader restarts bi-api (once), rekey only the other', async () => {
    const s = await open(undefined, { 'deployment/bi-api': { 'reloader.stakater.com/auto': 'true' } });
    await s.k.control('reloader', { delayMs: 500 });
    const plan = await s.k.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (JSON.parse(plan.stdout) as { steps: { id: string; title: string }[] }).steps;
    expect(steps.find((st) => st.id === 'deploy')?.title).toBe(
      `ExternalSecret ${ES}: rekey writes the source store, forces a sync, waits for Secret bi-secrets, then rolls out deployment/bi-api (restarted by Reloader, rekey waits for it), then statefulset/bi-worker (rekey restarts it) (namespace bi), each rolled out before the next, within 20s`,
    );
    const fromChanges = (await s.changes()).length;
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const changes = (await s.changes()).slice(fromChanges);
    expect(changes.map((c) => `${c.by} ${c.kind}/${c.name}`)).toEqual([
      'reloader deployment/bi-api',
      'api statefulset/bi-worker',
    ]);
    const { data } = await s.k.secret();
    const vault = await s.values();
    for (const key of KEYS) expect(data[key]).toBe(vault[key]);
  });

  it('a sync that never comes: deploy fails within its timeout, rolled back (Vault old, force-sync again, Secret old)', async () => {
    const s = await open('4s');
    await s.k.control('eso', { mode: 'never' });
    const fromChanges = (await s.changes()).length;
    const { r, reached, vaultAtRollback } = await rotateHealingAtRollback(s);
    expect(reached, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ExternalSecret bi-secrets-es did not sync Secret bi-secrets within 4s/);
    for (const key of KEYS) expect(vaultAtRollback[key]).toBe(INITIAL[key]);
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).toBe(INITIAL[key]);
      expect(data[key]).toBe(INITIAL[key]);
    }
    // Deploy's force-sync (no answer), the rollback's (synced the old values).
    expect(await s.esPatches()).toBe(2);
    expect((await s.syncs()).map((x) => x.result)).toEqual(['synced']);
    // The deploy restarted nothing (no sync); the rollback restarted each once, after its sync.
    expect((await s.changes()).slice(fromChanges).map((c) => `${c.by} ${c.kind}/${c.name}`)).toEqual([
      'api deployment/bi-api',
      'api statefulset/bi-worker',
    ]);
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'External Secrets Operator never syncs after force-sync',
      exit: r.code,
      rolledBack: true,
    });
  });

  it('SecretSyncedError: deploy fails at once, rolled back (Vault old, force-sync again, Secret old)', async () => {
    const s = await open();
    await s.k.control('eso', { mode: 'error' });
    const started = Date.now();
    const { r, reached } = await rotateHealingAtRollback(s);
    expect(reached, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /ExternalSecret bi-secrets-es could not sync Secret bi-secrets \(Ready False, SecretSyncedError\)/,
    );
    // Not the 20 s timeout: the error is seen at once.
    expect(Date.now() - started).toBeLessThan(18_000);
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).toBe(INITIAL[key]);
      expect(data[key]).toBe(INITIAL[key]);
    }
    expect(await s.esPatches()).toBe(2);
    expect((await s.syncs()).map((x) => x.result)).toEqual(['error', 'synced']);
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'External Secrets Operator SecretSyncedError after force-sync',
      exit: r.code,
      rolledBack: true,
    });
  });

  it('ESO synced but from another path (the Secret unchanged): the deploy fails, rolled back', async () => {
    const s = await open();
    const client = await VaultClient.connect({ address: s.vaultUrl }, { env: { VAULT_TOKEN } });
    await client.write('secret', 'bi/stale', { ...INITIAL }, 0);
    await s.k.control('eso', {
      mode: 'sync',
      delayMs: 300,
      vault: { url: s.vaultUrl, token: VAULT_TOKEN, mount: 'secret', path: 'bi/stale' },
    });
    const fromChanges = (await s.changes()).length;
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /ExternalSecret bi-secrets-es synced, but Secret bi-secrets holds the same data as before the rotation/,
    );
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).toBe(INITIAL[key]);
      expect(data[key]).toBe(INITIAL[key]);
    }
    expect(await s.esPatches()).toBe(2);
    // Only the rollback restarted (the deploy failed before any restart).
    expect((await s.changes()).slice(fromChanges).map((c) => `${c.by} ${c.kind}/${c.name}`)).toEqual([
      'api deployment/bi-api',
      'api statefulset/bi-worker',
    ]);
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'ExternalSecret synced from another path (Secret data unchanged by the sync)',
      exit: r.code,
      rolledBack: true,
    });
  });

  it('kill -9 after the store write (before and after the forced sync), then recover: Vault and the Secret agree', async () => {
    const s = await open();
    for (const point of ['deploy@begin', 'deploy@end']) {
      const killed = await s.k.killAt(point, ['rotate', '--yes']);
      expect(killed.signal, `${point}: ${killed.stderr}`).toBe('SIGKILL');
      const r = await s.k.run(['recover', '--yes']);
      expect(r.code, `${point}: ${r.stderr}`).toBe(0);
      const vault = await s.values();
      const { data } = await s.k.secret();
      const allOld = KEYS.every((key) => vault[key] === INITIAL[key]);
      const allNew = KEYS.every((key) => vault[key] !== INITIAL[key]);
      const agree = KEYS.every((key) => data[key] === vault[key]);
      record({
        kind: 'crash',
        suite: SUITE,
        point,
        target: 'vault-kv + ExternalSecret',
        outcome: `Vault ${allOld ? 'all old' : allNew ? 'all new' : 'mixed'}, Secret ${agree ? 'synced with it' : 'differs'}`,
        converged: (allOld || allNew) && agree,
      });
      expect(allOld || allNew, point).toBe(true);
      expect(agree, point).toBe(true);
      const again = await s.k.run(['recover', '--yes']);
      expect(again.code, again.stderr).toBe(0);
    }
  });

  it('the force-sync patch refused (403) mid-run: the deploy fails saying which permission, rolled back', async () => {
    const s = await open();
    // Allowed at preflight (SelfSubjectAccessReview), refused when the deploy patches (a Role changed).
    const r0 = await fetch(`${s.k.url}/__stand-in/faults`, {
      method: 'POST',
      body: JSON.stringify({ kind: 'denied', op: 'externalsecrets.patch', count: 1 }),
    });
    expect(r0.status).toBeLessThan(300);
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('annotating ExternalSecret bi/bi-secrets-es');
    expect(r.stderr).toContain('get and patch on externalsecrets "bi-secrets-es"');
    const vault = await s.values();
    const { data } = await s.k.secret();
    for (const key of KEYS) {
      expect(vault[key]).toBe(INITIAL[key]);
      expect(data[key]).toBe(INITIAL[key]);
    }
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'force-sync patch of the ExternalSecret refused (403)',
      exit: r.code,
      rolledBack: true,
    });
  });

  it('preflight names each missing permission on the ExternalSecret and the Secret, changes nothing', async () => {
    const s = await open();
    await s.k.rbac([
      { verbs: ['*'], apiGroups: ['', 'apps'], resources: ['*'], resourceNames: ['bi-api', 'bi-worker'] },
      { verbs: ['get'], apiGroups: ['external-secrets.io'], resources: ['externalsecrets'] },
    ]);
    const r = await s.k.run(['rotate', '--yes']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'rekey may not patch externalsecret/bi-secrets-es, get secret/bi-secrets in namespace bi',
    );
    expect(r.stderr).toContain('resources: ["externalsecrets"]');
    for (const key of KEYS) expect((await s.values())[key]).toBe(INITIAL[key]);
    expect(await s.esPatches()).toBe(0);
  });
});
