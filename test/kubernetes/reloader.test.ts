/**
 * Stakater Reloader next to a kubernetes deploy, end to end through the built CLI against the
 * Kubernetes API stand-in and its fake Reloader (demo/stand-ins/reloader.ts): a workload Reloader
 * restarts on its own when rekey writes the Secret is restarted exactly once (by Reloader; rekey waits
 * for its rollout), the others by rekey; Reloader absent → rekey restarts it itself after the bound,
 * once, and says so; the rollback's restore is restarted by Reloader again, not twice. The stand-in
 * counts every change of a pod template (who made it), so a second restart cannot go unseen.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TemplateChange } from '../../demo/stand-ins/kubernetes.js';
import { findLeak } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { filesUnder, INITIAL, KEYS, type KubeStack, makeKubeStack, NAMESPACE } from './kube-stack.js';

const SUITE = 'deploy kubernetes + Stakater Reloader (stand-in, built CLI)';
const AUTO = { 'reloader.stakater.com/auto': 'true' };

/** The restarts since `from`, as `by name` strings in order. */
const restarts = (changes: readonly TemplateChange[], from: number) =>
  changes.slice(from).map((c) => `${c.by} ${c.kind}/${c.name}`);

async function deployLog(s: KubeStack, label: 'deploy' | 'rollback'): Promise<string> {
  const logs = path.join(s.dir, '.rekey', 'logs');
  const file = (await fs.readdir(logs)).find((f) => f.endsWith(`-${label}.log`))!;
  return fs.readFile(path.join(logs, file), 'utf8');
}

describe('Kubernetes deploy with Stakater Reloader', () => {
  const stacks: KubeStack[] = [];
  const open = async (options: Parameters<typeof makeKubeStack>[0]) => {
    const s = await makeKubeStack(options);
    stacks.push(s);
    return s;
  };

  afterAll(async () => {
    const seen = new Set<string>(KEYS.map((k) => INITIAL[k]!));
    const texts: string[] = [];
    for (const s of stacks) {
      const { data } = await s.secret();
      for (const k of KEYS) if (data[k]) seen.add(data[k]!);
      for (const r of s.results) texts.push(r.stdout, r.stderr);
      texts.push(...(await filesUnder(path.join(s.dir, '.rekey'))));
      texts.push(
        ...(await s.log()).filter((l) => l.op !== 'secrets.patch').map((l) => `${l.path} ${l.body}`),
      );
      await s.stop();
    }
    expect(findLeak(seen, texts)).toBeUndefined();
  });

  it('a workload Reloader restarts is restarted once, by Reloader, and rekey waits for its rollout', async () => {
    const s = await open({ workloads: { 'deployment/bi-api': AUTO } });
    // Slower than rekey's first look: rekey must wait for it, not race it.
    await s.control('reloader', { delayMs: 1500 });

    const plan = await s.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (JSON.parse(plan.stdout) as { steps: { id: string; title: string }[] }).steps;
    expect(steps.find((st) => st.id === 'deploy')?.title).toBe(
      'roll out deployment/bi-api (restarted by Reloader, rekey waits for it), then statefulset/bi-worker (rekey restarts it) (namespace bi), each rolled out before the next, within 60s',
    );

    const fromChanges = (await s.templateChanges()).length;
    const fromLog = (await s.log()).length;
    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const changes = restarts(await s.templateChanges(), fromChanges);
    const ok =
      JSON.stringify(changes) === JSON.stringify(['reloader deployment/bi-api', 'api statefulset/bi-worker']);
    record({
      kind: 'concurrency',
      suite: SUITE,
      case: 'Reloader restarts a workload on the Secret write (1.5 s later)',
      ok,
      detail: ok
        ? 'each workload restarted exactly once: bi-api by Reloader (rekey waited for its rollout), bi-worker by rekey'
        : `restarts: ${changes.join(', ')}`,
    });
    // Exactly one restart each: Reloader's of bi-api, rekey's of bi-worker.
    expect(changes).toEqual(['reloader deployment/bi-api', 'api statefulset/bi-worker']);
    const log = (await s.log()).slice(fromLog);
    expect(log.filter((l) => l.op === 'deployments.patch')).toEqual([]);
    // rekey waited for Reloader's rollout to finish before restarting the next workload.
    const text = await deployLog(s, 'deploy');
    expect(text).toMatch(
      /deployment\.apps\/bi-api restarted by Reloader \(reloader\.stakater\.com\/auto: "true"\), waiting for its rollout\n[\s\S]*deployment "bi-api" successfully rolled out\nstatefulset\.apps\/bi-worker restarted\n[\s\S]*statefulset "bi-worker" rolling update complete/,
    );
    expect(r.stderr).toContain('deployment/bi-api restarted by Reloader');
  });

  it('Reloader absent: rekey restarts the workload itself after the bound, once, and says so', async () => {
    // timeout 10s: rekey waits 2 s (a fifth) for Reloader.
    const s = await open({ workloads: { 'deployment/bi-api': AUTO }, timeout: '10s' });
    const fromChanges = (await s.templateChanges()).length;
    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const changes = restarts(await s.templateChanges(), fromChanges);
    const ok =
      JSON.stringify(changes) === JSON.stringify(['api deployment/bi-api', 'api statefulset/bi-worker']);
    record({
      kind: 'fail-closed',
      suite: SUITE,
      point: 'deploy',
      cause: 'Reloader annotated but absent (no rollout within a fifth of the deploy timeout)',
      closed: ok,
      detail: ok
        ? 'rekey restarted the workload itself, once, and said so'
        : `restarts: ${changes.join(', ')}`,
    });
    expect(changes).toEqual(['api deployment/bi-api', 'api statefulset/bi-worker']);
    expect(r.stderr).toContain(
      'deployment/bi-api: Reloader started no rollout within 2s of the Secret write: rekey restarted it itself',
    );
    expect(await deployLog(s, 'deploy')).toMatch(/deployment "bi-api" successfully rolled out/);
  });

  it('rollback: the restore is restarted by Reloader again (once), rekey restarts only the others', async () => {
    const s = await open({ workloads: { 'deployment/bi-api': AUTO } });
    await s.control('reloader', { delayMs: 300 });
    await s.control('progress-deadline', { namespace: NAMESPACE, name: 'bi-api' });
    const pause = path.join(s.dir, 'pause');
    const fromChanges = (await s.templateChanges()).length;
    const fromLog = (await s.log()).length;
    const run = s.start(['rotate', '--yes'], {
      REKEY_PAUSE_AT: 'rollback-deploy@begin',
      REKEY_PAUSE_FILE: pause,
    });
    for (let i = 0; i < 1200 && !(await fs.stat(pause).catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    // The old data is back: the pods Reloader starts for it are healthy.
    await s.control('never-available', {
      kind: 'deployment',
      namespace: NAMESPACE,
      name: 'bi-api',
      stuck: false,
    });
    await fs.rm(pause);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/deployment "bi-api" exceeded its progress deadline/);
    const { data } = await s.secret();
    for (const k of KEYS) expect(data[k]).toBe(INITIAL[k]);
    const changes = restarts(await s.templateChanges(), fromChanges);
    const ok =
      JSON.stringify(changes) ===
      JSON.stringify([
        'reloader deployment/bi-api',
        'reloader deployment/bi-api',
        'api statefulset/bi-worker',
      ]);
    record({
      kind: 'failure',
      suite: SUITE,
      point: 'deploy',
      cause: 'rollout of a Reloader-restarted workload never available',
      exit: r.code,
      rolledBack: ok,
    });
    // Commit → Reloader; restore → Reloader again; the StatefulSet (never reached by the deploy) by rekey.
    expect(changes).toEqual([
      'reloader deployment/bi-api',
      'reloader deployment/bi-api',
      'api statefulset/bi-worker',
    ]);
    expect((await s.log()).slice(fromLog).filter((l) => l.op === 'deployments.patch')).toEqual([]);
    expect(await deployLog(s, 'rollback')).toMatch(
      /bi-api restarted by Reloader[\s\S]*deployment "bi-api" successfully rolled out/,
    );
  });
});
