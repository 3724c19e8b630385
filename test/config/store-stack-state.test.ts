/**
 * A store stack's state directory: keyed by its store's identity, and a pending journal of a store
 * stack that owns the state root is never taken for an orphan by an env-file stack in the same folder
 * (its identity names no file, so "the owner's env file is gone" must not be concluded from it).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT_OWNER_FILE, stackKeyOf, stackState } from '../../src/config/stack-state.js';
import { storeIdentity } from '../../src/config/store.js';
import { tempDir } from '../helpers/tmp.js';

describe('a store stack in a shared state root', () => {
  it('keeps an env-file stack out of the root while the store stack has a rotation pending', async () => {
    const root = await tempDir('rekey-store-state-');
    const identity = storeIdentity({ type: 'aws-ssm', prefix: '/bi/production/', region: 'eu-west-1' });
    expect(identity).toBe('aws-ssm:eu-west-1:/bi/production/');
    await fs.writeFile(path.join(root, ROOT_OWNER_FILE), `${identity}\n`);
    await fs.writeFile(path.join(root, 'journal.json'), '{"version":2,"store":{"type":"aws-ssm"}}');

    const store = await stackState(root, identity);
    expect(store.stateDir).toBe(root);
    const envFile = path.join(root, '..', '.env.production');
    const other = await stackState(root, envFile);
    expect(other.stateDir).toBe(path.join(root, 'stacks', stackKeyOf(envFile)));
  });

  it('names a Vault store by address, namespace, mount and path (VAULT_ADDR when not configured)', () => {
    const config = { type: 'vault-kv' as const, mount: 'secret', path: 'bi/production' };
    expect(
      storeIdentity(config, { VAULT_ADDR: 'https://vault.example.com:8200/', VAULT_NAMESPACE: 'ops' }),
    ).toBe('vault-kv:https://vault.example.com:8200/ops/secret/bi/production');
  });
});
