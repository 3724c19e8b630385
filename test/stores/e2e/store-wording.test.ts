/**
 * A store stack's messages name its store, never an env file it does not have: an unknown `${NAME}`
 * in rekey.yaml, the stack a change request is bound to, and the compromise eviction report of its
 * file-held secrets. Through the built CLI against each stand-in (the binding: its pure function).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { bindingMismatch } from '../../../src/governance/approvals/stack-id.js';
import { makeStoreStack, STORE_TYPES, type StoreStack, type StoreType } from './store-stack.js';

const LABEL: Record<StoreType, string> = {
  'vault-kv': 'Vault secret',
  'aws-ssm': 'SSM parameters',
  'aws-secretsmanager': 'Secrets Manager secret',
};

const stacks: StoreStack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

describe.each(STORE_TYPES)('a %s stack names its store', (type) => {
  it('an unknown reference: not set in the store (named) or the environment', async () => {
    const s = await makeStoreStack(type, {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: rekey.yaml's own ${NAME} syntax
      extraConfig: 'deploy: { command: "echo ${NOT_DEFINED_ANYWHERE}" }',
    });
    stacks.push(s);
    const r = await s.run(['plan']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `ERR_CONFIG_INTERPOLATION: deploy.command: \\$\\{NOT_DEFINED_ANYWHERE\\} is not set in the store ${type}:\\S+ or the environment`,
      ),
    );
    expect(r.stderr).toMatch(/Add a field NOT_DEFINED_ANYWHERE to the store/);
    expect(r.stderr).not.toMatch(/env file/);
  }, 60_000);

  it('the compromise eviction report: held only in the store', async () => {
    const s = await makeStoreStack(type);
    stacks.push(s);
    const r = await s.run(['rotate', '--trigger', 'compromise', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const eviction = JSON.parse(r.stdout).eviction as { service: string; text: string }[];
    const fileHeld = eviction.filter((f) => /JWT_SECRET|API_SECRET_KEY/.test(f.service));
    expect(fileHeld.length).toBeGreaterThan(0);
    for (const f of fileHeld) expect(f.text).toMatch(new RegExp(`^held only in the ${LABEL[type]}:`));
    // `rekey verify --trigger compromise` looks again, read-only, and says the same.
    const v = await s.run(['verify', '--trigger', 'compromise', '--json']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout + v.stderr).toContain(`held only in the ${LABEL[type]}, which keeps no previous value`);
    expect(v.stdout + v.stderr).not.toContain('env file');
  }, 60_000);
});

describe('a change request bound to a store stack', () => {
  it('names the store it is for, not an env file', () => {
    const why = bindingMismatch(
      { stackId: 'a'.repeat(32), envFile: 'vault-kv:https://vault:8200/secret/bi/staging', host: 'h' },
      { stackId: 'a'.repeat(32), envFile: 'vault-kv:https://vault:8200/secret/bi/production', host: 'h' },
    );
    expect(why).toBe(
      'it is for the store vault-kv:https://vault:8200/secret/bi/staging, not the store vault-kv:https://vault:8200/secret/bi/production',
    );
    // An env-file stack's binding reads as before.
    expect(
      bindingMismatch(
        { stackId: 'a'.repeat(32), envFile: '/srv/a/.env', host: 'h' },
        { stackId: 'a'.repeat(32), envFile: '/srv/b/.env', host: 'h' },
      ),
    ).toBe('it is for the env file /srv/a/.env, not /srv/b/.env');
  });
});
