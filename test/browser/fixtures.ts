/**
 * A stack with a history for the browser tests: the engine test stack with approvals (alice and bob
 * sign), one approved rotation that completed and one that rolled back at verify, through the built
 * CLI. `secrets()` is every value the page must never show: the initial values, the current ones,
 * and the audit log's fingerprints (HMACs) of values.
 */
import { promises as fs } from 'node:fs';
import { expect } from 'vitest';
import { INITIAL } from '../engine/stack.js';
import { approved, type GovStack } from '../governance/helpers.js';

export const TICKET = 'CHG-<b>7</b>';
export const OPERATOR = 'oncall@example.com';

export interface History {
  ok: string;
  failed: string;
}

/** Rotates `s` once (completed) and once more with a fault at verify (rolled back). */
export async function rotateTwice(s: GovStack): Promise<History> {
  const r1 = await approved(s, { ticket: TICKET });
  const a = await s.run(['rotate', '--yes', '--json', '--request', r1.id, '--operator', OPERATOR]);
  expect(a.code, a.stderr).toBe(0);
  const r2 = await approved(s, { ticket: 'CHG-8' });
  const b = await s.run(['rotate', '--yes', '--json', '--request', r2.id, '--operator', OPERATOR], {
    env: { REKEY_FAIL_AT: 'verify' },
  });
  expect(b.code, b.stderr).not.toBe(0);
  return { ok: JSON.parse(a.stdout).id, failed: JSON.parse(b.stdout).id };
}

/** Every value (and value fingerprint) that must never reach a page. */
export async function secrets(s: GovStack): Promise<string[]> {
  const now = [...(await s.env()).values()].filter((v) => v.length >= 8 && !/^[a-z-]+$/.test(v));
  const log = (await fs.readFile(s.auditFile, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { secrets?: Array<{ fingerprint?: string }> });
  const fingerprints = log.flatMap((x) =>
    (x.secrets ?? []).flatMap((y) => (y.fingerprint ? [y.fingerprint] : [])),
  );
  expect(fingerprints.length).toBeGreaterThan(0);
  return [...Object.values(INITIAL), ...now, ...fingerprints];
}

export const today = (): string => new Date().toISOString().slice(0, 10);
