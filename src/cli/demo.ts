/** `rekey demo`: a throwaway local stack, full rotations, then tear down (demo/runner.ts). */
import { RekeyError } from '../lib/errors.js';
import { printJson } from './output.js';

export async function demoCommand(opts: { keep?: boolean; json?: boolean }): Promise<void> {
  // Loaded on demand: the demo pulls in the app's and the launchers' code, which no other command needs.
  const { runDemo } = await import('../../demo/runner.js');
  const result = await runDemo({ keep: opts.keep ?? false, json: opts.json ?? false });
  if (opts.json) printJson(result);
  if (!result.ok) {
    const failed = result.claims.filter((c) => !c.ok).map((c) => c.claim);
    throw new RekeyError(
      'ERR_DEMO_FAILED',
      `the demo did not go as shown: ${failed.join('; ') || 'a command failed'}`,
    );
  }
}
