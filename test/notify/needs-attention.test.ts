/**
 * The needs-attention notification end to end: a rotation fails at verify and its rollback cannot
 * finish (the single-password service refuses the revert), through the built CLI; a local webhook
 * receiver gets `started` then `needs-attention`, both signed (checked with the receiver-side
 * verifyWebhook), naming the failed step and never a value (not the old one, not the new one the
 * service may still hold).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/notify/index.js';
import { INITIAL, useStacks } from '../engine/stack.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { type Received, useReceivers } from './receiver.js';

const KEY = 'notify-hmac-key-Na7Tt4Qe2Wr9Ys6Ui1Op';
const stacks = useStacks();
const receivers = useReceivers();

const header = (r: Received, name: string) => {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

describe('notify: needs attention', () => {
  it('a rollback that cannot finish is delivered as needs-attention, signed, with the failed step', async () => {
    const rx = await receivers();
    const s = await stacks({
      extraConfig: `notify:\n  - { url: "${rx.url}/hook", secretFile: notify.key }\n`,
    });
    await fs.writeFile(path.join(s.dir, 'notify.key'), `${KEY}\n`, { mode: 0o600 });
    await s.faults({ 'revert:SINGLE_PASSWORD': 'fail' });
    const r = await s.run(['rotate', '--yes', '--json', '--ticket', 'CHG-99'], {
      env: { REKEY_FAIL_AT: 'verify' },
    });
    expect(r.code, r.stderr).toBe(4);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcome).toBe('needs-attention');

    const events = rx.received.map((x) => JSON.parse(x.body));
    expect(events.map((e) => e.event)).toEqual(['started', 'needs-attention']);
    for (const x of rx.received) {
      expect(
        verifyWebhook({
          key: KEY,
          body: x.body,
          timestamp: header(x, 'x-rekey-timestamp'),
          signature: header(x, 'x-rekey-signature'),
        }),
      ).toEqual({ ok: true });
      expect(header(x, 'x-rekey-event')).toBe(JSON.parse(x.body).event);
    }
    // Forged: the same body signed with another key, or altered after signing, does not verify.
    const last = rx.received[1]!;
    const ts = header(last, 'x-rekey-timestamp');
    const sig = header(last, 'x-rekey-signature');
    expect(verifyWebhook({ key: 'another-key', body: last.body, timestamp: ts, signature: sig }).ok).toBe(
      false,
    );
    const altered = last.body.replace('needs-attention', 'completed');
    expect(verifyWebhook({ key: KEY, body: altered, timestamp: ts, signature: sig }).ok).toBe(false);

    expect(events[1]).toMatchObject({
      version: 1,
      event: 'needs-attention',
      rotation: {
        id: events[0].rotation.id,
        kind: 'rotate',
        outcome: 'needs-attention',
        ticket: 'CHG-99',
        failedStep: 'verify',
        errorCode: expect.stringMatching(/^ERR_/),
      },
    });
    expect(events[1].rotation.id).toBe(doc.id);

    // No value: the initial ones, what the env file holds, what either service accepts now.
    const held = [
      ...(await s.accepted('SINGLE_PASSWORD')),
      ...(await s.accepted('OVERLAP_PASSWORD')),
      ...(await s.env()).values(),
    ].filter((v) => v.length >= 8 && !/^[a-z-]+$/.test(v));
    const values = [...new Set([...Object.values(INITIAL), ...held])];
    expect(values.length).toBeGreaterThan(Object.values(INITIAL).length); // the new value is among them
    const texts = rx.received.flatMap((x) => [x.path, x.body, JSON.stringify(x.headers)]);
    record({
      kind: 'canary',
      suite: 'notify',
      scope: 'needs-attention webhook bodies, paths and headers; old values and the new one a service holds',
      values: values.length,
      places: texts.length,
      occurrences: leakOccurrences(values, texts),
    });
    expect(findLeak([...values, KEY], texts)).toBeUndefined();
  });
});
