/**
 * The scheduler with the real engine (engineRotator: governance hooks, preflight, rollback) against a
 * Grafana stand-in whose admin password is not the one in the env file: a rejected credential is
 * never retried (each try is a failed login; Grafana locks a user out after 5 in 5 minutes). The
 * secret needs attention at once, and schedule.json and the metrics say it was an auth rejection.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startGrafanaStandIn } from '../../demo/grafana/standin.js';
import { loadConfig } from '../../src/config/load.js';
import { silentProgress } from '../../src/engine/progress.js';
import type { StackDeps } from '../../src/governance/stack-deps.js';
import { silentLogger } from '../../src/lib/log.js';
import { readStatus } from '../../src/policy/inputs.js';
import { buildRegistry } from '../../src/policy/metrics.js';
import type { Clock } from '../../src/policy/schedule/clock.js';
import { engineRotator } from '../../src/policy/schedule/engine-rotate.js';
import { Scheduler } from '../../src/policy/schedule/scheduler.js';
import { ScheduleStore } from '../../src/policy/schedule/store.js';
import { allowedUnattendedTypes } from '../../src/policy/schedule/unattended.js';
import { createTargets } from '../../src/targets/index.js';
import { createVerifier } from '../../src/verify/index.js';
import { startCli } from '../engine/stack.js';
import { samples } from '../helpers/exposition.js';
import { record } from '../helpers/resilience.js';
import { stackDeps } from '../helpers/stack-deps.js';
import { tempDir } from '../helpers/tmp.js';

/** Real time, except that sleeping (the backoff between retries) only moves the clock. */
class SkippingClock implements Clock {
  offset = 0;
  readonly sleeps: number[] = [];
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.offset += ms;
  }
}

describe('rekey schedule and a rejected credential', () => {
  it('a wrong Grafana password costs one failed login: needs attention (auth), no retry', async () => {
    const dir = await tempDir('rekey-schedule-auth-');
    const grafana = await startGrafanaStandIn({
      dataFile: path.join(dir, 'grafana.json'),
      initialPassword: 'the-Real-admin-pw-1',
      log: () => {},
    });
    onTestFinished(() => grafana.close());
    await writeFile(path.join(dir, '.env'), 'GRAFANA_ADMIN_PASSWORD=not-the-Admin-pw-2\n', { mode: 0o600 });
    await writeFile(
      path.join(dir, 'rekey.yaml'),
      [
        'envFile: .env',
        'secrets:',
        `  - { key: GRAFANA_ADMIN_PASSWORD, type: grafana, url: "${grafana.url}", user: admin, unattended: true }`,
        'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 3, backoff: 1m, maxFailures: 3 }',
      ].join('\n'),
    );
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    const deps: StackDeps = {
      ...stackDeps(loaded),
      verifier: createVerifier(loaded.config),
      makeTargets: (env) => createTargets(loaded.config.secrets, { env, configDir: dir }),
      progress: silentProgress,
      log: silentLogger,
    };
    const clock = new SkippingClock();
    const store = new ScheduleStore(loaded.stateDir);
    const scheduler = new Scheduler({
      settings: {
        cron: '0 3 * * *',
        jitterMs: 0,
        retries: 3,
        backoffMs: 60_000,
        maxFailures: 3,
        allowedTypes: allowedUnattendedTypes(['grafana']),
      },
      clock,
      status: () => readStatus(loaded, clock.now()),
      rotate: engineRotator(async () => deps, { warn: () => {} }),
      store,
      log: silentLogger,
    });

    const run = await scheduler.runOnce();

    expect(grafana.stats().failedLogins).toBe(1);
    expect(grafana.stats().logins).toBe(0);
    expect(clock.sleeps).toEqual([]);
    expect(run.results).toEqual([
      {
        key: 'GRAFANA_ADMIN_PASSWORD',
        outcome: 'needs-attention',
        attempts: 1,
        detail: expect.stringMatching(/^ERR_TARGET_AUTH: .*not retried/),
      },
    ]);
    const state = (await store.read()).secrets.GRAFANA_ADMIN_PASSWORD;
    expect(state?.needsAttention).toMatchObject({
      kind: 'auth',
      reason: expect.stringMatching(/^ERR_TARGET_AUTH/),
    });
    expect(state?.lastError?.code).toBe('ERR_TARGET_AUTH');

    // The next scheduled run does not try again: still one failed login.
    const again = await scheduler.runOnce();
    expect(again.results[0]).toMatchObject({ outcome: 'skipped', attempts: 0 });
    expect(grafana.stats().failedLogins).toBe(1);

    const report = await readStatus(loaded, clock.now());
    const s = samples(await buildRegistry(report, []).metrics());
    const labels = `stack="${loaded.stack}",key="GRAFANA_ADMIN_PASSWORD",type="grafana"`;
    expect(s.get(`rekey_secret_needs_attention{${labels}}`)).toBe(1);
    expect(s.get(`rekey_secret_needs_attention_reason{${labels},reason="auth"}`)).toBe(1);
    expect(s.get(`rekey_secret_needs_attention_reason{${labels},reason="failures"}`)).toBe(0);
  });

  it('rekey schedule --once (built CLI, real clock): one failed login, exit 4, nothing changed', async () => {
    const dir = await tempDir('rekey-schedule-auth-cli-');
    const grafana = await startGrafanaStandIn({
      dataFile: path.join(dir, 'grafana.json'),
      initialPassword: 'the-Real-admin-pw-1',
      log: () => {},
    });
    onTestFinished(() => grafana.close());
    const env = 'GRAFANA_ADMIN_PASSWORD=not-the-Admin-pw-2\n';
    await writeFile(path.join(dir, '.env'), env, { mode: 0o600 });
    await writeFile(
      path.join(dir, 'rekey.yaml'),
      [
        'envFile: .env',
        'secrets:',
        `  - { key: GRAFANA_ADMIN_PASSWORD, type: grafana, url: "${grafana.url}", user: admin, unattended: true }`,
        // Short backoff: today's retries would land 4 failed logins within 7 s instead of 7 minutes.
        'schedule: { cron: "0 3 * * *", jitter: 0s, retries: 3, backoff: 1s, maxFailures: 3 }',
      ].join('\n'),
    );
    const r = await startCli(['schedule', '--once', '--allow-unattended', 'grafana'], dir, {
      ...process.env,
      NO_COLOR: '1',
    }).done;
    const failed = grafana.stats().failedLogins;
    const unchanged = (await readFile(path.join(dir, '.env'), 'utf8')) === env;
    record({
      kind: 'failure',
      suite: 'rekey schedule (Grafana stand-in, built CLI)',
      point: 'preflight',
      cause: `wrong current Grafana password: ${failed} failed login(s), not retried, needs attention (auth)`,
      exit: r.code,
      rolledBack: r.code === 4 && failed === 1 && unchanged,
    });
    expect(failed).toBe(1);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/GRAFANA_ADMIN_PASSWORD: needs-attention \(ERR_TARGET_AUTH: .*not retried/);
    expect(r.stderr).not.toContain('not-the-Admin-pw-2');
    expect(unchanged).toBe(true);
  });
});
