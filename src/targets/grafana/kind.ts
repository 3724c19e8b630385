/** The grafana type: a user's password, changed through Grafana's HTTP API. */
import { firstKey, type SecretKind } from '../kind.js';

export const grafanaKind: SecretKind<'grafana'> = {
  type: 'grafana',
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
  create: async (secret, env) => (await import('./index.js')).grafanaTarget(secret, env),
};
