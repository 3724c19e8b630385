/**
 * A notification given up on is a metric: a receiver that always answers 500, a real rotation through
 * the built CLI, then `rekey serve` (another process) shows rekey_notifications_failed_total 1 for the
 * event and the webhook's origin, and neither the metric nor the record holds the URL's path or query.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAILURES_FILE } from '../../src/notify/index.js';
import { useServe } from '../browser/serve.js';
import { useStacks } from '../engine/stack.js';
import { useReceivers } from './receiver.js';

const stacks = useStacks();
const receivers = useReceivers();
const serve = useServe();

/** The samples of one metric: labels text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('rekey_notifications_failed_total', () => {
  it('is 1 per event and origin after a rotation whose webhook always answers 500', async () => {
    const rx = await receivers(Array(12).fill(500));
    const s = await stacks({
      extraConfig: `notify:\n  - { url: "${rx.url}/T0/PATHSECRET?token=QUERYSECRET", format: slack, events: [completed] }\n`,
    });
    const stack = path.basename(s.dir);
    const before = await serve(s);
    const none = await (await fetch(before.metrics)).text();
    expect(samples(none, 'rekey_notifications_failed_total').size).toBe(0);
    await before.stop();

    const r = await s.run(['rotate', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(rx.received.length).toBe(3); // the first attempt and two retries
    expect(r.stderr).toMatch(/notification "completed" to http:\/\/127\.0\.0\.1:\d+ not delivered/);

    const server = await serve(s);
    const text = await (await fetch(server.metrics)).text();
    expect(text).toContain('# TYPE rekey_notifications_failed_total counter');
    expect([...samples(text, 'rekey_notifications_failed_total')]).toEqual([
      [`stack="${stack}",event="completed",origin="${rx.url}"`, 1],
    ]);
    const record = await fs.readFile(path.join(s.stateDir, FAILURES_FILE), 'utf8');
    expect(JSON.parse(record)).toMatchObject({
      event: 'completed',
      origin: rx.url,
      attempts: 3,
      reason: 'HTTP 500',
    });
    for (const t of [text, record]) expect(t).not.toMatch(/PATHSECRET|QUERYSECRET|token=/);
  });
});
