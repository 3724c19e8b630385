/**
 * Notifications end to end: real rotations of the engine test stack through the built CLI, webhooks
 * received on a local HTTP server, every signature checked with the receiver-side verifyWebhook,
 * every body and header scanned for the secrets' values.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signBody, verifyWebhook } from '../../src/notify/index.js';
import { INITIAL, type Stack, useStacks } from '../engine/stack.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { type Received, useReceivers } from './receiver.js';

const KEY = 'notify-hmac-key-Zq8Lw2Xv9Rt4Mn7Pb3Kd';

const stacks = useStacks();
const receivers = useReceivers();

async function notifyStack(hooks: string, more = {}): Promise<Stack> {
  const s = await stacks({ extraConfig: `notify:\n${hooks}`, ...more });
  await fs.writeFile(path.join(s.dir, 'notify.key'), `${KEY}\n`, { mode: 0o600 });
  return s;
}

const header = (r: Received, name: string) => {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
};
const verified = (r: Received) =>
  verifyWebhook({
    key: KEY,
    body: r.body,
    timestamp: header(r, 'x-rekey-timestamp'),
    signature: header(r, 'x-rekey-signature'),
  });
const texts = (rs: readonly Received[]) => rs.flatMap((r) => [r.path, r.body, JSON.stringify(r.headers)]);

describe('notify: webhooks on rotation events', () => {
  it('a rotation delivers started then completed, signed, with names and never a value', async () => {
    const rx = await receivers();
    const s = await notifyStack(`  - { url: "${rx.url}/hook", secretFile: notify.key }\n`);
    const r = await s.run(['rotate', '--yes', '--ticket', 'CHG-42', '--operator', 'alice@example.com']);
    expect(r.code, r.stderr).toBe(0);
    expect(rx.received.map((x) => JSON.parse(x.body).event)).toEqual(['started', 'completed']);
    for (const x of rx.received) {
      expect(verified(x)).toEqual({ ok: true });
      expect(header(x, 'x-rekey-delivery')).toBe(JSON.parse(x.body).id);
    }
    const [started, completed] = rx.received.map((x) => JSON.parse(x.body));
    expect(started.rotation).toMatchObject({
      kind: 'rotate',
      trigger: 'manual',
      operator: 'alice@example.com',
    });
    expect(completed).toMatchObject({
      version: 1,
      event: 'completed',
      rotation: {
        id: started.rotation.id,
        kind: 'rotate',
        outcome: 'rotated',
        ticket: 'CHG-42',
        keys: ['JWT_SECRET', 'API_SECRET_KEY', 'SINGLE_PASSWORD', 'OVERLAP_PASSWORD'],
      },
    });
    expect(completed.rotation.failedStep).toBeUndefined();
    const now = [...(await s.env()).values()].filter((v) => v.length >= 8);
    const values = [...Object.values(INITIAL), ...now, KEY];
    const places = [...texts(rx.received), r.stdout, r.stderr];
    record({
      kind: 'canary',
      suite: 'notify',
      scope: 'webhook bodies, paths and headers (started, completed), CLI output; old, new and HMAC key',
      values: values.length,
      places: places.length,
      occurrences: leakOccurrences(values, places),
    });
    expect(findLeak(values, texts(rx.received))).toBeUndefined();
    expect(findLeak([KEY], [r.stdout, r.stderr])).toBeUndefined();
  });

  it('a rolled-back rotation says which step failed; the exit code is what it is without notify', async () => {
    const rx = await receivers();
    const s = await notifyStack(`  - { url: "${rx.url}/hook", secretFile: notify.key }\n`);
    const r = await s.run(['rotate', '--yes'], { env: { REKEY_FAIL_AT: 'verify' } });
    const plain = await stacks();
    const p = await plain.run(['rotate', '--yes'], { env: { REKEY_FAIL_AT: 'verify' } });
    expect(r.code).toBe(p.code);
    const events = rx.received.map((x) => JSON.parse(x.body));
    expect(events.map((e) => e.event)).toEqual(['started', 'rolled-back']);
    expect(events[1].rotation).toMatchObject({ outcome: 'rolled-back', failedStep: 'verify' });
    expect(events[1].rotation.errorCode).toBe('ERR_INJECTED_FAULT');
    for (const x of rx.received) expect(verified(x)).toEqual({ ok: true });
    expect(findLeak([...Object.values(INITIAL), KEY], texts(rx.received))).toBeUndefined();
  });

  it('rekey rollback is told as kind rollback, trigger rollback', async () => {
    const rx = await receivers();
    const s = await notifyStack(
      `  - { url: "${rx.url}/hook", secretFile: notify.key, events: [completed] }\n`,
    );
    expect((await s.run(['rotate', '--yes'])).code).toBe(0);
    const r = await s.run(['rollback', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const events = rx.received.map((x) => JSON.parse(x.body));
    expect(events.map((e) => [e.event, e.rotation.kind, e.rotation.trigger])).toEqual([
      ['completed', 'rotate', 'manual'],
      ['completed', 'rollback', 'rollback'],
    ]);
    for (const x of rx.received) expect(verified(x)).toEqual({ ok: true });
  });

  it('a receiver answering 500 gets the delivery again (same id, signed afresh)', async () => {
    const rx = await receivers([200, 500, 200]);
    const s = await notifyStack(`  - { url: "${rx.url}/hook", secretFile: notify.key }\n`);
    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const events = rx.received.map((x) => JSON.parse(x.body));
    expect(events.map((e) => e.event)).toEqual(['started', 'completed', 'completed']);
    expect(events[1].id).toBe(events[2].id);
    expect(verified(rx.received[2]!)).toEqual({ ok: true });
    expect(r.stderr).not.toMatch(/not delivered/);
  });

  it('a receiver that never answers costs at most its bounded time, a warning, and nothing else', async () => {
    const rx = await receivers(['hang', 'hang', 'hang', 'hang', 'hang', 'hang']);
    const s = await notifyStack(
      `  - { url: "${rx.url}/hook/T0-PATHSECRET?token=QUERYSECRET", secretFile: notify.key, timeout: 1s }\n`,
    );
    const t0 = Date.now();
    const r = await s.run(['rotate', '--yes']);
    const ms = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    await s.assertConsistent();
    // started and completed: 3 attempts of 1s and 3s of backoff each at most; started runs beside
    // the rotation. Generous bound for a loaded machine, far below an unbounded wait.
    expect(ms).toBeLessThan(30_000);
    expect(rx.received.length).toBe(6);
    expect(r.stderr).toMatch(
      /notification "completed" to http:\/\/127\.0\.0\.1:\d+ not delivered after 3 attempts/,
    );
    expect(r.stderr).not.toMatch(/PATHSECRET|QUERYSECRET|token=/);
    expect(findLeak([KEY], [r.stdout, r.stderr])).toBeUndefined();
  });

  it('events: filters, and the slack format is { text } naming the failed step', async () => {
    const rx = await receivers();
    const s = await notifyStack(`  - { url: "${rx.url}/slack", format: slack, events: [rolled-back] }\n`);
    await s.run(['rotate', '--yes', '--ticket', 'CHG-1 <!channel> <https://evil.example|click>'], {
      env: { REKEY_FAIL_AT: 'deploy' },
    });
    expect(rx.received.length).toBe(1);
    const body = JSON.parse(rx.received[0]!.body);
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toMatch(/ROLLED BACK.*deploy failed \(ERR_INJECTED_FAULT\)/);
    // Slack's mrkdwn: no mention or link can be smuggled in through a ticket.
    expect(body.text).toContain('ticket CHG-1 &lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(body.text).not.toMatch(/[<>]/);
  });

  it('plain http to another host is refused at load (ERR_CONFIG_INVALID, exit 2)', async () => {
    const s = await notifyStack('  - { url: "http://hooks.example.com/x", secretFile: notify.key }\n');
    const before = await fs.readFile(s.envFile, 'utf8');
    const r = await s.run(['rotate', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ERR_CONFIG_INVALID|https/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(before);
  });
});

describe('verifyWebhook: what a receiver checks', () => {
  const body = '{"version":1,"event":"completed"}';
  const now = new Date('2026-12-04T12:00:00Z');
  const ts = String(Math.floor(now.getTime() / 1000));
  const sig = signBody(KEY, ts, body);

  it('accepts the delivery as sent', () => {
    expect(verifyWebhook({ key: KEY, body, timestamp: ts, signature: sig, now })).toEqual({ ok: true });
  });

  it('refuses a replay of a captured delivery once its timestamp is old', () => {
    const later = new Date(now.getTime() + 301_000);
    const v = verifyWebhook({ key: KEY, body, timestamp: ts, signature: sig, now: later });
    expect(v.ok).toBe(false);
  });

  it('refuses a captured signature with a fresh timestamp, an altered body, a wrong key', () => {
    const fresh = String(Number(ts) + 60);
    expect(verifyWebhook({ key: KEY, body, timestamp: fresh, signature: sig, now }).ok).toBe(false);
    const altered = body.replace('completed', 'started');
    expect(verifyWebhook({ key: KEY, body: altered, timestamp: ts, signature: sig, now }).ok).toBe(false);
    expect(verifyWebhook({ key: 'another key', body, timestamp: ts, signature: sig, now }).ok).toBe(false);
    expect(verifyWebhook({ key: KEY, body, timestamp: ts, signature: undefined, now }).ok).toBe(false);
  });
});
