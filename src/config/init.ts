/**
 * `rekey init`: a commented rekey.yaml detected from an env file's keys. Pure rendering here; the
 * command writes it (never over an existing config).
 */

export interface Detected {
  readonly lines: readonly string[];
  readonly keys: readonly string[];
}

/** A secret found in the env file: its key and its commented rekey.yaml lines. */
export interface InitSecret {
  readonly key: string;
  readonly lines: readonly string[];
}

/**
 * Renders rekey.yaml for an env file with the given keys and the secrets detected in it (each secret
 * type detects its own: src/targets/registry.ts; secrets are never written into the config).
 *
 * @example
 * renderInitConfig('.env.production', new Map([['JWT_SECRET', 'x']]), [jwt], { hasDeployScript: false }).keys; // ['JWT_SECRET']
 */
export function renderInitConfig(
  envFileRelative: string,
  env: ReadonlyMap<string, string>,
  secrets: readonly InitSecret[],
  options: { hasDeployScript: boolean },
): Detected {
  const keys = new Set(env.keys());
  const detected = secrets.map((d) => d.key);
  const s = secrets.flatMap((d) => d.lines);
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
