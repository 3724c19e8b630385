/** `rekey demo`: a throwaway local stack, full rotations, then tear down (demo/runner.ts). */
import { RekeyError } from '../lib/errors.js';
import { printJson } from './output.js';

/** The stores `rekey demo --store` offers (each a stand-in in demo/stand-ins/). */
const STORES = ['vault-kv', 'aws-ssm', 'aws-secretsmanager'] as const;
type DemoStore = (typeof STORES)[number];

export async function demoCommand(opts: { keep?: boolean; json?: boolean; store?: string }): Promise<void> {
  if (opts.store !== undefined && !(STORES as readonly string[]).includes(opts.store))
    throw new RekeyError(
      'ERR_USAGE',
      `rekey demo --store: unknown store ${JSON.stringify(opts.store)}; the demo has ${STORES.join(', ')}`,
      {
        hint: 'Run `rekey demo --store vault-kv` (or aws-ssm, aws-secretsmanager), or `rekey demo` for the env-file stack.',
      },
    );
  // Loaded on demand: the demo pulls in the app's and the launchers' code, which no other command needs.
  const result = await (await import('../../demo/runner.js')).runDemo({
    keep: opts.keep ?? false,
    json: opts.json ?? false,
    ...(opts.store === undefined ? {} : { store: opts.store as DemoStore }),
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
