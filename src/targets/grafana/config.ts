/** The grafana type: a user's password, changed through Grafana's HTTP API. */
import { z } from 'zod';
import { commonSecretFields } from '../../config/pieces.js';
import { firstKey, secretType, slots } from '../secret-type.js';

export const grafanaType = secretType({
  type: 'grafana',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('grafana'),
    url: z.string().url(),
    user: z.string().min(1).default('admin'),
    deleteTokensOnCompromise: z
      .boolean()
      .default(false)
      .describe(
        "On --trigger compromise, delete the service-account tokens created since the previous rotation (rekey keeps their ids and names, never their values, in the state directory). Off by default: rekey cannot tell an attacker's token from one a colleague made for an integration since then, and deleting it breaks that integration; off, they are reported by name. Sessions of the user are revoked either way.",
      ),
  }),
  ownedKeys: (s) => slots(s.key),
  unattendedByDefault: false,
  detect(env) {
    const key = firstKey(env, 'GRAFANA_ADMIN_PASSWORD', 'GF_SECURITY_ADMIN_PASSWORD');
    if (key === undefined) return undefined;
    const user = env.get('GRAFANA_ADMIN_USER') ?? env.get('GF_SECURITY_ADMIN_USER') ?? 'admin';
    return {
      key,
      lines: [
        "  # Changed through Grafana's HTTP API: GF_SECURITY_ADMIN_PASSWORD is only read on first start.",
        `  - { key: ${key}, type: grafana, url: "http://127.0.0.1:3000", user: ${user} }`,
      ],
    };
  },
  factory: new URL('./kind.js', import.meta.url).href,
});
