/** The one answer to "which env keys does this secret own": per type, from the validated config. */
import { describe, expect, it } from 'vitest';
import { secretSchema } from '../../src/config/schema.js';
import { ownedKeys } from '../../src/targets/registry.js';

const owned = (raw: Record<string, unknown>) => ownedKeys(secretSchema.parse(raw));

describe('ownedKeys', () => {
  it('file-held types own their key and grace slot', () => {
    expect(owned({ key: 'J', type: 'jwt', previousKey: 'J_PREV' })).toEqual({
      written: ['J', 'J_PREV'],
      secret: ['J', 'J_PREV'],
    });
    expect(owned({ key: 'A', type: 'api-key' })).toEqual({ written: ['A'], secret: ['A'] });
    expect(owned({ key: 'G', type: 'generic' })).toEqual({ written: ['G'], secret: ['G'] });
  });

  it('alternating postgres writes the role name (not secret); the admin password is secret, never written', () => {
    expect(
      owned({
        key: 'PG_PASSWORD',
        type: 'postgres',
        user: 'app',
        strategy: 'alternating',
        roles: ['a', 'b'],
        userKey: 'PG_USER',
        admin: { user: 'adm', passwordKey: 'PG_ADMIN' },
      }),
    ).toEqual({ written: ['PG_USER', 'PG_PASSWORD'], secret: ['PG_PASSWORD', 'PG_ADMIN'] });
    expect(owned({ key: 'PG_PASSWORD', type: 'postgres', user: 'app' })).toEqual({
      written: ['PG_PASSWORD'],
      secret: ['PG_PASSWORD'],
    });
  });

  it('redis reads its admin password, grafana and command own one key', () => {
    expect(owned({ key: 'R', type: 'redis', admin: { user: 'default', passwordKey: 'R_ADMIN' } })).toEqual({
      written: ['R'],
      secret: ['R', 'R_ADMIN'],
    });
    expect(owned({ key: 'GF', type: 'grafana', url: 'http://127.0.0.1:3000' })).toEqual({
      written: ['GF'],
      secret: ['GF'],
    });
    expect(owned({ key: 'C', type: 'command', run: 'true' })).toEqual({ written: ['C'], secret: ['C'] });
  });
});
