/**
 * The Grafana first-start trap (RK401), read from the env file: GF_SECURITY_ADMIN_PASSWORD is only
 * read when Grafana creates its database, so editing it later changes nothing (SERVICE-FACTS.md).
 */
import { type DoctorContext, keyLocation } from '../context.js';
import type { Check, Finding, Rule } from '../finding.js';

const RULE = {
  id: 'RK401',
  name: 'grafana-first-start-variable',
  severity: 'high',
  summary: 'GF_SECURITY_ADMIN_PASSWORD in the env file only matters for a new Grafana data directory',
} as const satisfies Rule;

export const grafanaEnvCheck: Check<DoctorContext> = {
  name: 'Grafana first-start variable',
  rules: [RULE],
  async run(ctx) {
    const key = 'GF_SECURITY_ADMIN_PASSWORD';
    if (!ctx.values.has(key)) return [];
    const managed = ctx.secrets.some((s) => s.config.type === 'grafana' && s.config.key === key);
    const out: Finding = {
      rule: RULE.id,
      severity: managed ? 'info' : RULE.severity,
      message: managed
        ? `${key} is managed by rekey: rekey changes the live password through Grafana's API and then the variable`
        : `${key} is set, but Grafana reads it only when its data directory is new`,
      why: 'Editing the variable (the naive rotation) leaves the live admin password unchanged and the app locked out of what it expects.',
      fix: managed
        ? 'Nothing to do; keep rotating it with rekey (never by editing the variable alone).'
        : `Manage it with rekey (\`- { key: ${key}, type: grafana, … }\` in rekey.yaml), which changes the live password first.`,
      keys: [key],
      location: keyLocation(ctx, key),
    };
    return [out];
  },
};
