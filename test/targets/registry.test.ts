/**
 * The registry of secret types (src/targets/registry.ts): every type's factory module, named by URL
 * in its config.ts (so no compiler checks it), loads and builds; the list's order is what `rekey init`
 * detects in and what error messages name.
 */
import { describe, expect, it } from 'vitest';
import { secretSchema } from '../../src/config/schema.js';
import {
  defaultUnattendedTypes,
  detectSecrets,
  isSecretType,
  ownedKeys,
  SECRET_TYPES,
  secretTypeSpecs,
} from '../../src/targets/registry.js';

describe('secret type registry', () => {
  it('lists every type once, in order', () => {
    expect(SECRET_TYPES).toEqual(['jwt', 'api-key', 'generic', 'postgres', 'redis', 'grafana', 'command']);
    expect(isSecretType('redis')).toBe(true);
    expect(isSecretType('toString')).toBe(false);
    expect(defaultUnattendedTypes()).toEqual(['postgres', 'redis']);
  });

  it('names, for every type, a factory module of its own folder exporting create', async () => {
    for (const spec of secretTypeSpecs()) {
      expect(new URL(spec.factory).pathname, spec.type).toMatch(/\/src\/targets\/[a-z-]+\/kind\.(ts|js)$/);
      const mod = (await import(spec.factory)) as { create?: unknown };
      expect(typeof mod.create, spec.type).toBe('function');
    }
  });

  it('builds the target of every type through its factory, with the keys its type owns', async () => {
    const { createTarget } = await import('../../src/targets/index.js');
    const raw: Record<string, unknown>[] = [
      { key: 'J', type: 'jwt', previousKey: 'J_PREV' },
      { key: 'A', type: 'api-key' },
      { key: 'G', type: 'generic' },
      { key: 'P', type: 'postgres', user: 'app', admin: { user: 'adm', passwordKey: 'P_ADMIN' } },
      { key: 'R', type: 'redis' },
      { key: 'F', type: 'grafana', url: 'http://127.0.0.1:9' },
      { key: 'C', type: 'command', run: 'true' },
    ];
    expect(raw.map((r) => r.type)).toEqual(SECRET_TYPES);
    for (const r of raw) {
      const secret = secretSchema.parse(r);
      const target = await createTarget(secret, { env: new Map(), configDir: '/' });
      expect(target.type).toBe(r.type);
      expect(target.keys).toEqual(ownedKeys(secret).written);
      expect(target.secretKeys).toEqual(ownedKeys(secret).secret);
      await target.close?.();
    }
  });

  it('detects in registry order for `rekey init`', () => {
    const env = new Map([
      ['REDIS_PASSWORD', 'x'],
      ['API_SECRET_KEY', 'x'],
      ['JWT_SECRET', 'x'],
    ]);
    expect(detectSecrets(env).map((d) => d.key)).toEqual(['JWT_SECRET', 'API_SECRET_KEY', 'REDIS_PASSWORD']);
  });
});
