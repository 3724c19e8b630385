/**
 * `stackValues` (config/load.ts) is how doctor, the rotate/plan doctor gate and the audit read a
 * stack's values now. For a store stack nothing else registers them with the redactor when the
 * config has no `${…}` from the store: whatever prints after it must mask them anyway.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type LoadedConfig, stackValues } from '../../src/config/load.js';
import { redactor } from '../../src/lib/redact.js';

describe('stackValues of a store stack', () => {
  it('registers every value it read with the redactor', async () => {
    const jwt = randomBytes(32).toString('base64url');
    const pg = randomBytes(24).toString('hex');
    const loaded = {
      envFile: undefined,
      readStore: async () =>
        new Map([
          ['JWT_SECRET', jwt],
          ['POSTGRES_PASSWORD', pg],
        ]),
      config: {
        secrets: [
          { key: 'JWT_SECRET', type: 'jwt' },
          { key: 'POSTGRES_PASSWORD', type: 'postgres', user: 'app' },
        ],
      },
    } as unknown as LoadedConfig;
    expect(redactor.leaks(`a finding about ${jwt} and ${pg}`)).toBe(false); // not known before
    const values = await stackValues(loaded);
    expect(values.get('JWT_SECRET')).toBe(jwt);
    const line = redactor.redact(`a finding about ${jwt} and ${pg} (${Buffer.from(pg).toString('base64')})`);
    expect(line).not.toContain(jwt);
    expect(line).not.toContain(pg);
    expect(line).toContain('[REDACTED:JWT_SECRET]');
  });

  it('says so when a store stack has no reader', async () => {
    const loaded = { envFile: undefined, config: { secrets: [] } } as unknown as LoadedConfig;
    await expect(stackValues(loaded)).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
  });
});
