/**
 * The notifications of commands that rotate nothing: `overdue` from `rekey check`,
 * `approval-requested` from `rekey request`, through the built CLI to a local receiver.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/notify/index.js';
import { INITIAL, useStacks } from '../engine/stack.js';
import { useGovStacks } from '../governance/helpers.js';
import { findLeak } from '../helpers/leak-forms.js';
import { useReceivers } from './receiver.js';

const KEY = 'notify-hmac-key-Zq8Lw2Xv9Rt4Mn7Pb3Kd';
const stacks = useStacks();
const { stack: govStack } = useGovStacks();
const receivers = useReceivers();

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

describe('notify: check and request', () => {
  it('rekey check sends overdue naming the never-rotated secrets; its exit code is unchanged', async () => {
    const rx = await receivers();
    const s = await stacks({
      extraConfig: `notify:\n  - { url: "${rx.url}/h", secretFile: notify.key, events: [overdue] }\n`,
    });
    await fs.writeFile(path.join(s.dir, 'notify.key'), KEY);
    const r = await s.run(['check']);
    expect(r.code).toBe(3);
    expect(rx.received.length).toBe(1);
    const x = rx.received[0]!;
    expect(
      verifyWebhook({
        key: KEY,
        body: x.body,
        timestamp: one(x.headers['x-rekey-timestamp']),
        signature: one(x.headers['x-rekey-signature']),
      }),
    ).toEqual({ ok: true });
    const e = JSON.parse(x.body);
    expect(e.event).toBe('overdue');
    expect(e.overdue.map((o: { key: string }) => o.key).sort()).toEqual(
      ['API_SECRET_KEY', 'JWT_SECRET', 'OVERLAP_PASSWORD', 'SINGLE_PASSWORD'].sort(),
    );
    expect(findLeak([...Object.values(INITIAL), KEY], [x.body, JSON.stringify(x.headers)])).toBeUndefined();
  });

  it('rekey schedule --once: started and completed for what it rotates, overdue for what it leaves', async () => {
    const rx = await receivers();
    const s = await stacks({ extraConfig: `notify:\n  - { url: "${rx.url}/h", secretFile: notify.key }\n` });
    await fs.writeFile(path.join(s.dir, 'notify.key'), KEY);
    const yaml = path.join(s.dir, 'rekey.yaml');
    const text = await fs.readFile(yaml, 'utf8');
    await fs.writeFile(yaml, text.replace('overlap: false }', 'overlap: false, unattended: true }'));
    const r = await s.run(['schedule', '--once', '--allow-unattended', 'command']);
    expect(r.code, r.stderr).toBe(0);
    const events = rx.received.map((x) => JSON.parse(x.body));
    expect(events.map((e) => e.event).sort()).toEqual(['completed', 'overdue', 'started']);
    const overdue = events.find((e) => e.event === 'overdue');
    // SINGLE_PASSWORD is the scheduler's to rotate: not reported as overdue, and only once per run.
    expect(overdue.overdue.map((o: { key: string }) => o.key).sort()).toEqual([
      'API_SECRET_KEY',
      'JWT_SECRET',
      'OVERLAP_PASSWORD',
    ]);
    const completed = events.find((e) => e.event === 'completed');
    expect(completed.rotation).toMatchObject({
      keys: ['SINGLE_PASSWORD'],
      trigger: 'scheduled',
      outcome: 'rotated',
    });
    expect(
      findLeak(
        [...Object.values(INITIAL), KEY],
        rx.received.map((x) => x.body),
      ),
    ).toBeUndefined();
  });

  it('rekey request sends approval-requested with the id, keys, ticket and the roles needed', async () => {
    const rx = await receivers();
    const s = await govStack({
      more: `notify:\n  - { url: "${rx.url}/h", secretKey: NOTIFY_KEY, events: [approval-requested] }\n`,
    });
    await fs.appendFile(s.envFile, `NOTIFY_KEY=${KEY}\n`);
    const r = await s.run([
      'request',
      '--trigger',
      'scheduled',
      '--ticket',
      'CHG-9',
      '--key',
      s.key('carol'),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { id } = JSON.parse(r.stdout) as { id: string };
    expect(rx.received.length).toBe(1);
    const x = rx.received[0]!;
    expect(
      verifyWebhook({
        key: KEY,
        body: x.body,
        timestamp: one(x.headers['x-rekey-timestamp']),
        signature: one(x.headers['x-rekey-signature']),
      }),
    ).toEqual({ ok: true });
    expect(JSON.parse(x.body)).toMatchObject({
      event: 'approval-requested',
      request: { id, ticket: 'CHG-9', trigger: 'scheduled', require: ['security-lead', 'devops-lead'] },
    });
    expect(findLeak([...Object.values(INITIAL), KEY], [x.body, r.stdout, r.stderr])).toBeUndefined();
  });
});
