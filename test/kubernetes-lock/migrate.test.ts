/**
 * `rekey migrate --to kubernetes` through the built CLI against the Kubernetes API stand-in: the
 * Secret is created with the env file's managed values and rekey.yaml gains the store: section, under
 * the stack's Lease as a rotation takes it; with the Lease held by another pod, migrate exits 6
 * (ERR_LOCKED) naming the holder and changes nothing (no Secret, rekey.yaml byte for byte, the Lease
 * still theirs). A Secret holding other values is refused even with --force (it keeps no history).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectKube } from '../../src/lib/kube.js';
import { LeaseLock } from '../../src/stores/kubernetes/lease.js';
import { findLeak } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { type KubeStack, makeKubeStack, NAMESPACE } from '../kubernetes/kube-stack.js';

const SUITE = 'migrate --to kubernetes (stand-in, built CLI)';
const VALUES = {
  JWT_SECRET: 'migrate-k8s-canary-jwt-0123456789abcdefghijklmnopqrstuv',
  API_SECRET_KEY: 'migrate-k8s-canary-api-0123456789abcdefghijklmnop',
};
const CONFIG = `envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt }
  - { key: API_SECRET_KEY, type: api-key }
`;

/** A stand-in (with a kubeconfig) and an env-file stack beside it, not yet migrated. */
async function envStack(): Promise<KubeStack> {
  const s = await makeKubeStack();
  await fs.writeFile(path.join(s.dir, 'rekey.yaml'), CONFIG, { mode: 0o640 });
  await fs.writeFile(
    path.join(s.dir, '.env.production'),
    `APP=demo\nJWT_SECRET=${VALUES.JWT_SECRET}\nAPI_SECRET_KEY=${VALUES.API_SECRET_KEY}\n`,
    { mode: 0o600 },
  );
  return s;
}

async function secretData(s: KubeStack, name: string): Promise<Record<string, string> | undefined> {
  const r = await fetch(`${s.url}/__stand-in/kubernetes/secret?namespace=${NAMESPACE}&name=${name}`);
  if (r.status !== 200) return undefined;
  return ((await r.json()) as { data: Record<string, string> }).data;
}

describe('rekey migrate --to kubernetes', () => {
  const stacks: KubeStack[] = [];
  afterAll(async () => {
    const texts: string[] = [];
    for (const s of stacks) {
      for (const r of s.results) texts.push(r.stdout, r.stderr);
      texts.push(
        ...(await s.log()).filter((l) => l.op !== 'secrets.create').map((l) => `${l.path} ${l.body}`),
      );
      await s.stop();
    }
    expect(findLeak(new Set(Object.values(VALUES)), texts)).toBeUndefined();
  });

  it('creates the Secret with the managed values and points rekey.yaml at it, taking the Lease', async () => {
    const s = await envStack();
    stacks.push(s);
    const r = await s.run([
      'migrate',
      '--to',
      'kubernetes',
      '--namespace',
      NAMESPACE,
      '--name',
      'bi-app',
      '--yes',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await secretData(s, 'bi-app')).toEqual(VALUES);
    expect(await fs.readFile(path.join(s.dir, 'rekey.yaml'), 'utf8')).toMatch(
      /store:\n {2}type: kubernetes\n {2}namespace: bi\n {2}name: bi-app\n/,
    );
    const log = await s.log();
    const leaseWrite = log.findIndex((l) => l.op.startsWith('leases.') && l.write && l.status < 300);
    const create = log.findIndex((l) => l.op === 'secrets.create' && l.status === 201);
    expect(leaseWrite).toBeGreaterThanOrEqual(0);
    expect(leaseWrite).toBeLessThan(create);
    // Given back at the end: a rotation may take it at once.
    const status = await s.run(['status', '--json']);
    expect((JSON.parse(status.stdout) as { lock?: { state: string } }).lock?.state).toBe('free');

    // Once there, other values in the Secret are refused even with --force (no history to keep them).
    await fs.writeFile(
      path.join(s.dir, '.env.production'),
      `APP=demo\nJWT_SECRET=another-value-0123456789abcdefghijklmnopqrstuvwxyzAB\nAPI_SECRET_KEY=${VALUES.API_SECRET_KEY}\n`,
      { mode: 0o600 },
    );
    const forced = await s.run([
      'migrate',
      '--to',
      'kubernetes',
      '--namespace',
      NAMESPACE,
      '--name',
      'bi-app',
      '--force',
      '--yes',
    ]);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain('a Secret keeps no history');
    expect(await secretData(s, 'bi-app')).toEqual(VALUES);
  });

  it('with the Lease held by another pod: exit 6 naming the holder, nothing changed', async () => {
    const s = await envStack();
    stacks.push(s);
    const other = new LeaseLock(connectKube({ kubeconfig: path.join(s.dir, 'kubeconfig') }), {
      namespace: NAMESPACE,
      name: 'rekey-bi-app',
      identity: 'pod-b/4242',
      durationSeconds: 120,
    });
    await other.acquire();
    const yamlBefore = await fs.readFile(path.join(s.dir, 'rekey.yaml'), 'utf8');
    const r = await s.run([
      'migrate',
      '--to',
      'kubernetes',
      '--namespace',
      NAMESPACE,
      '--name',
      'bi-app',
      '--yes',
    ]);
    const unchanged =
      (await secretData(s, 'bi-app')) === undefined &&
      (await fs.readFile(path.join(s.dir, 'rekey.yaml'), 'utf8')) === yamlBefore;
    record({
      kind: 'concurrency',
      suite: SUITE,
      case: 'migrate --to kubernetes while another pod holds the Lease',
      ok: r.code === 6 && unchanged,
      detail: `exit ${r.code}; ${unchanged ? 'nothing changed' : 'something changed'}`,
    });
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/ERR_LOCKED/);
    expect(r.stderr).toContain('another rekey (pod-b/4242) holds Lease bi/rekey-bi-app');
    expect(unchanged).toBe(true);
    const lease = await other.look();
    expect(lease).toMatchObject({ state: 'held', holder: 'pod-b/4242' });
  });
});
