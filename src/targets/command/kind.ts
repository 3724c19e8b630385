/** The command type: any service, rotated by the operator's own script. */
import type { SecretKind } from '../kind.js';

export const commandKind: SecretKind<'command'> = {
  type: 'command',
  unattendedByDefault: false,
  create: async (secret, env) => (await import('./index.js')).commandTarget(secret, env.configDir),
};
