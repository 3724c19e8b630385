/** `rekey demo`: a throwaway local stack, full rotations, then tear down (demo/runner.ts). */
import { RekeyError } from '../lib/errors.js';
import { printJson } from './output.js';

export async function demoCommand(opts: { keep?: boolean; json?: boolean; store?: string }): Promise<void> {
  if (opts.store !== undefined && opts.store !== 'vault-kv')
    throw new RekeyError(
      'ERR_USAGE',
      `rekey demo --store: unknown store ${JSON.stringify(opts.store)}; the demo has a Vault variant only`,
      { hint: 'Run `rekey demo --store vault-kv`, or `rekey demo` for the env-file stack.' },
    );
  // Loaded on demand: the demo pulls in the app's and the launchers' code, which no other command needs.
  const result =
    opts.store === 'vault-kv'
      ? await (await import('../../demo/runner-vault.js')).runVaultDemo({
          keep: opts.keep ?? false,
          json: opts.json ?? false,
        })
      : await (await import('../../demo/runner.js')).runDemo({
          keep: opts.keep ?? false,
          json: opts.json ?? false,
        });
  if (opts.json) printJson(result);
  if (!result.ok) {
    const failed = result.claims.filter((c) => !c.ok).map((c) => c.claim);
    throw new RekeyError(
      'ERR_DEMO_FAILED',
      `the demo did not go as shown: ${failed.join('; ') || 'a command failed'}`,
    );
  }
}
