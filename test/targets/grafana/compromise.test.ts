/**
 * Issue 12, Grafana, at the target: the attacker signs in with the stolen password (keeps the
 * session cookie) and mints a service-account token; the compromise rotation's finish revokes the
 * session and reports the token by name (deletes it with `deleteTokensOnCompromise`). The list of
 * token ids and names lives in the state directory (0600, never a token value). Idempotent after a
 * crash; `checkFootholds` only looks. Without a state directory or a previous list nothing is deleted.
 */
import { chmod, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GrafanaStandIn } from '../../../demo/grafana/standin.js';
import { silentLogger } from '../../../src/lib/log.js';
import { grafanaTarget } from '../../../src/targets/grafana/index.js';
import type { TargetContext } from '../../../src/targets/types.js';
import { tempDir } from '../../helpers/tmp.js';
import { ctx, FIRST, failuresDuring, KEY, secretFor, standIn, vals } from './helpers.js';

const compromise: TargetContext = { trigger: 'compromise', log: silentLogger };
const basic = (pw: string) => `Basic ${Buffer.from(`admin:${pw}`).toString('base64')}`;

async function status(url: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** The attacker: a browser session and a service-account token made with the stolen password. */
async function attack(grafana: GrafanaStandIn, stolen: string, name = 'backup') {
  const login = await fetch(`${grafana.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password: stolen }),
  });
  expect(login.status).toBe(200);
  const cookie = /grafana_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')?.[0] ?? '';
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${grafana.url}${p}`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as { id: number; key: string };
  };
  const sa = await post('/api/serviceaccounts', { name, role: 'Admin' });
  const token = await post(`/api/serviceaccounts/${sa.id}/tokens`, { name: `${name}-token` });
  return {
    cookie,
    key: token.key,
    session: () => status(`${grafana.url}/api/user`, { cookie }),
    token: () => status(`${grafana.url}/api/org`, { authorization: `Bearer ${token.key}` }),
  };
}

/** A stand-in, a state directory, and a target (with `extra` config) whose previous rotation listed the tokens. */
async function rotated(extra: Record<string, unknown> = {}) {
  const fx = await standIn();
  const stateDir = await tempDir('rekey-grafana-state-');
  const t = grafanaTarget(secretFor(fx.grafana.url, extra), {
    env: new Map(),
    configDir: '/nonexistent',
    stateDir,
  });
  // A legitimate token made before the previous rotation: known, never reported.
  const legit = await attack(fx.grafana, FIRST, 'terraform');
  const next = t.generate(ctx, vals(FIRST));
  await t.stage(ctx, vals(FIRST), next);
  await t.finish(ctx, vals(FIRST), next);
  expect(t.evictions?.()).toEqual([]);
  return { ...fx, stateDir, t, stolen: next[KEY] as string, legit };
}

describe('grafana target on --trigger compromise', () => {
  it('revokes the attacker session and reports the new token by name, leaving it (switch off)', async () => {
    const { grafana, stateDir, t, stolen, legit } = await rotated();
    const attacker = await attack(grafana, stolen);
    expect(await attacker.session()).toBe(200);
    expect(await attacker.token()).toBe(200);

    const file = path.join(stateDir, `grafana-tokens-${KEY}.json`);
    await chmod(file, 0o644); // widened by hand: the list is written back 0600 all the same
    const next = t.generate(compromise, vals(stolen));
    await t.stage(compromise, vals(stolen), next);
    expect(await failuresDuring(grafana, () => t.finish(compromise, vals(stolen), next))).toBe(0);

    expect(await attacker.session()).toBe(401);
    expect(await attacker.token()).toBe(200); // reported, not deleted
    expect(await legit.token()).toBe(200);
    const findings = t.evictions?.() ?? [];
    expect(findings.map((f) => [f.foothold, f.status])).toEqual([
      ['sessions', 'removed'],
      ['tokens', 'reported'],
    ]);
    expect(findings[0]?.text).toMatch(/^2 sessions of admin revoked/); // the attacker's and the legit one's
    expect(findings[1]?.text).toContain('backup/backup-token');
    expect(findings[1]?.text).toContain('deleteTokensOnCompromise is off');
    expect(findings[1]?.text).not.toContain('terraform');

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(attacker.key);
    expect(text).not.toContain(legit.key);
    expect(text).not.toContain(stolen);
    // The reported token stays suspect: a later scheduled rotation does not make it known.
    const again = t.generate(ctx, next);
    await t.stage(ctx, next, again);
    await t.finish(ctx, next, again);
    const check = await t.checkFootholds?.(ctx, again);
    expect(check?.find((f) => f.foothold === 'tokens')).toMatchObject({ status: 'reported' });
  });

  it('deleteTokensOnCompromise: deletes the tokens created since the previous rotation, and only those', async () => {
    const { grafana, t, stolen, legit } = await rotated({ deleteTokensOnCompromise: true });
    const attacker = await attack(grafana, stolen);
    const next = t.generate(compromise, vals(stolen));
    await t.stage(compromise, vals(stolen), next);
    await t.finish(compromise, vals(stolen), next);

    expect(await attacker.session()).toBe(401);
    expect(await attacker.token()).toBe(401);
    expect(await legit.token()).toBe(200);
    const findings = t.evictions?.() ?? [];
    expect(findings.map((f) => [f.foothold, f.status])).toEqual([
      ['sessions', 'removed'],
      ['tokens', 'removed'],
    ]);
    expect(findings[1]?.text).toContain('backup/backup-token');

    // A re-run of finish after a crash: nothing fails, nothing is left.
    await t.finish(compromise, vals(stolen), next);
    expect((t.evictions?.() ?? []).map((f) => [f.foothold, f.status])).toEqual([
      ['sessions', 'clean'],
      ['tokens', 'clean'],
    ]);
  });

  it('no list from a previous rotation: every token is reported, none deleted, even with the switch on', async () => {
    const { grafana } = await standIn();
    const stateDir = await tempDir('rekey-grafana-state-');
    const t = grafanaTarget(secretFor(grafana.url, { deleteTokensOnCompromise: true }), {
      env: new Map(),
      configDir: '/nonexistent',
      stateDir,
    });
    const attacker = await attack(grafana, FIRST);
    const next = t.generate(compromise, vals(FIRST));
    await t.stage(compromise, vals(FIRST), next);
    await t.finish(compromise, vals(FIRST), next);
    expect(await attacker.session()).toBe(401);
    expect(await attacker.token()).toBe(200);
    const tokens = t.evictions?.().find((f) => f.foothold === 'tokens');
    expect(tokens?.status).toBe('reported');
    expect(tokens?.text).toContain('no list from a previous rotation');
    expect(tokens?.text).toContain('backup/backup-token');
  });

  it('an admin that cannot list tokens: "could not check" with the reason, and finish does not fail', async () => {
    const { grafana, t, stolen } = await rotated();
    await attack(grafana, stolen);
    const next = t.generate(compromise, vals(stolen));
    await t.stage(compromise, vals(stolen), next);
    grafana.failNext('/api/serviceaccounts/search', 403);
    await t.finish(compromise, vals(stolen), next);
    const tokens = t.evictions?.().find((f) => f.foothold === 'tokens');
    expect(tokens).toMatchObject({ status: 'unchecked' });
    expect(tokens?.text).toMatch(/^could not check: GET \/api\/serviceaccounts\/search answered 403/);
  });

  it('checkFootholds only looks: it reports the session and the new token, and changes nothing', async () => {
    const { grafana, stateDir, t, stolen } = await rotated();
    const attacker = await attack(grafana, stolen);
    const file = path.join(stateDir, `grafana-tokens-${KEY}.json`);
    const before = await readFile(file, 'utf8');
    const found = (await t.checkFootholds?.(compromise, vals(stolen))) ?? [];
    expect(found.map((f) => [f.foothold, f.status])).toEqual([
      ['sessions', 'reported'],
      ['tokens', 'reported'],
    ]);
    expect(found[1]?.text).toContain('backup/backup-token');
    expect(found[1]?.text).not.toContain('terraform');
    expect(await attacker.session()).toBe(200);
    expect(await attacker.token()).toBe(200);
    expect(await readFile(file, 'utf8')).toBe(before);
    // A password Grafana rejects: one failed login, not two; both footholds "could not check".
    let checked: readonly { status: string }[] = [];
    expect(
      await failuresDuring(grafana, async () => {
        checked = (await t.checkFootholds?.(compromise, vals('not-the-password'))) ?? [];
      }),
    ).toBe(1);
    expect(checked.map((f) => f.status)).toEqual(['unchecked', 'unchecked']);
    expect(await status(`${grafana.url}/api/user`, { authorization: basic(stolen) })).toBe(200);
  });
});
