/**
 * `rekey init`: a commented rekey.yaml detected from an env file's keys. Pure rendering here; the
 * command writes it (never over an existing config).
 */

export interface Detected {
  readonly lines: readonly string[];
  readonly keys: readonly string[];
}

const first = (keys: ReadonlySet<string>, ...names: string[]) => names.find((n) => keys.has(n));

/**
 * Renders rekey.yaml for an env file with the given keys and values (values are read only for
 * non-secret settings such as POSTGRES_DB or REDIS_PORT; secrets are never written into the config).
 *
 * @example
 * renderInitConfig('.env.production', new Map([['JWT_SECRET', 'x']]), { hasDeployScript: false }).keys; // ['JWT_SECRET']
 */
export function renderInitConfig(
  envFileRelative: string,
  env: ReadonlyMap<string, string>,
  options: { hasDeployScript: boolean },
): Detected {
  const keys = new Set(env.keys());
  const detected: string[] = [];
  const s: string[] = [];
  const jwt = first(keys, 'JWT_SECRET', 'SECRET_KEY');
  if (jwt) {
    detected.push(jwt);
    s.push(
      '  # Signing secret of the API app. The old value moves to the previous slot so tokens in flight keep verifying.',
    );
    s.push(`  - { key: ${jwt}, type: jwt, previousKey: ${jwt}_PREVIOUS }`);
  }
  if (keys.has('API_SECRET_KEY')) {
    detected.push('API_SECRET_KEY');
    s.push('  - { key: API_SECRET_KEY, type: api-key, previousKey: API_SECRET_KEY_PREVIOUS }');
  }
  if (keys.has('POSTGRES_PASSWORD')) {
    detected.push('POSTGRES_PASSWORD');
    const user = keys.has('POSTGRES_USER') ? `"\${POSTGRES_USER}"` : 'postgres';
    const db = env.get('POSTGRES_DB') ?? 'postgres';
    const host = env.get('POSTGRES_HOST') ?? '127.0.0.1';
    const port = Number(env.get('POSTGRES_PORT') ?? 5432) || 5432;
    s.push(
      "  # The app role's password, set with a SCRAM verifier (the plaintext never reaches the server).",
    );
    s.push(
      '  # strategy: alternating (two roles, zero downtime) needs roles, userKey and an admin connection.',
    );
    s.push(
      `  - { key: POSTGRES_PASSWORD, type: postgres, host: ${host}, port: ${port}, user: ${user}, database: ${db} }`,
    );
  }
  if (keys.has('REDIS_PASSWORD')) {
    detected.push('REDIS_PASSWORD');
    const host = env.get('REDIS_HOST') ?? '127.0.0.1';
    const port = Number(env.get('REDIS_PORT') ?? 6379) || 6379;
    s.push('  # Old and new passwords are both valid between stage and finish (ACL SETUSER >new ... <old).');
    s.push(`  - { key: REDIS_PASSWORD, type: redis, host: ${host}, port: ${port} }`);
  }
  const grafana = first(keys, 'GRAFANA_ADMIN_PASSWORD', 'GF_SECURITY_ADMIN_PASSWORD');
  if (grafana) {
    detected.push(grafana);
    const user = env.get('GRAFANA_ADMIN_USER') ?? env.get('GF_SECURITY_ADMIN_USER') ?? 'admin';
    s.push("  # Changed through Grafana's HTTP API: GF_SECURITY_ADMIN_PASSWORD is only read on first start.");
    s.push(`  - { key: ${grafana}, type: grafana, url: "http://127.0.0.1:3000", user: ${user} }`);
  }
  const lines = [
    '# rekey.yaml — what rekey rotates and how. Reference: docs/configuration.md in the rekey repository.',
    '# yaml-language-server: $schema=./node_modules/rekey/schema/rekey.schema.json',
    `envFile: ${envFileRelative}`,
    '',
    '# Rotate at least every maxAge; `rekey check` warns warnBefore the due date and exits 3 when overdue.',
    'policy: { maxAge: 90d, warnBefore: 14d }',
    '',
    'secrets:',
    ...s,
    '',
    ...(options.hasDeployScript
      ? [
          'deploy:',
          '  command: bash scripts/deploy.sh deploy',
          '  rollback: bash scripts/deploy.sh rollback',
          '  timeout: 5m',
        ]
      : [
          '# deploy:',
          '#   command: bash scripts/deploy.sh deploy',
          '#   rollback: bash scripts/deploy.sh rollback',
        ]),
    '',
    ...(keys.has('REDIS_PASSWORD')
      ? [
          '# Session purge after the deploy (always on --trigger compromise):',
          '# sessions:',
          '#   redis: { patterns: ["session:*"] }',
        ]
      : []),
    '',
    '# Post-rotation checks (retried until verifyPolicy.deadline):',
    '# verify:',
    '#   - { name: App Health, http: "http://127.0.0.1:8000/api/health", expect: 200 }',
    '',
  ];
  return { lines, keys: detected };
}
