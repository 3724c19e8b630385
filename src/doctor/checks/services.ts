/**
 * Service traps (RK4xx, live and read-only): what each target's plan inspection reports as a known
 * trap (src/engine/ports.ts `ServiceTrap`) — a PostgreSQL password that expires (VALID UNTIL), weak
 * `password_encryption`, an alternating login role owning objects, a Redis user with nopass, a Redis
 * password change that does not survive a restart — and the inspection's other warnings. Each target
 * connects with the stack's current values, as `rekey plan` does; nothing is changed, and no login is
 * attempted with a guessed password (Grafana locks an account after failed logins).
 */
import { ms } from '../../config/load.js';
import { silentLogger } from '../../lib/log.js';
import { safeMessage } from '../../lib/redact.js';
import { createTargets, type PlanNote, type Target } from '../../targets/index.js';
import type { DoctorContext } from '../context.js';
import { type Check, COULD_NOT_CHECK, type Finding, type Rule, type Severity } from '../finding.js';

const RULES = {
  expiry: {
    id: 'RK402',
    name: 'postgres-password-expires',
    severity: 'high',
    summary:
      'a PostgreSQL role whose password expires (VALID UNTIL) before the next rotation is due, or already has',
  },
  encryption: {
    id: 'RK403',
    name: 'postgres-password-encryption',
    severity: 'high',
    summary: 'password_encryption is not scram-sha-256',
  },
  owned: {
    id: 'RK404',
    name: 'login-role-owns-objects',
    severity: 'high',
    summary: 'an alternating login role owns objects the other login role cannot use',
  },
  nopass: {
    id: 'RK405',
    name: 'redis-nopass',
    severity: 'high',
    summary: 'a Redis user with nopass: any password, or none, is accepted',
  },
  persist: {
    id: 'RK406',
    name: 'redis-not-persistable',
    severity: 'high',
    summary: 'a Redis password change does not survive a restart (no config file, no aclfile)',
  },
  defaults: {
    id: 'RK407',
    name: 'default-login-accepted',
    severity: 'high',
    summary: 'a service accepts a well-known default login (postgres/postgres)',
  },
  other: {
    id: 'RK409',
    name: 'service-warning',
    severity: 'medium',
    summary: "another warning of a target's live inspection (what `rekey plan` warns about)",
  },
} as const satisfies Record<string, Rule>;

const INSPECT_TIMEOUT_MS = 15_000;

function finding(
  rule: Rule,
  key: string,
  note: PlanNote,
  why: string,
  fix: string,
  severity?: Severity,
): Finding {
  return {
    rule: rule.id,
    severity: severity ?? rule.severity,
    message: `${key}: ${note.text}`,
    why,
    fix,
    keys: [key],
  };
}

function expirySeverity(ctx: DoctorContext, at: string): Severity {
  const when = Date.parse(at);
  if (Number.isNaN(when)) return 'medium';
  const now = ctx.now.getTime();
  const policy = ctx.loaded.config.policy;
  if (when <= now) return 'critical';
  if (when <= now + ms(policy.warnBefore)) return 'high';
  if (when <= now + ms(policy.maxAge)) return 'medium';
  return 'info';
}

function toFinding(ctx: DoctorContext, key: string, note: PlanNote): Finding | undefined {
  switch (note.trap) {
    case 'password-expiry':
      return finding(
        RULES.expiry,
        key,
        note,
        'When VALID UNTIL passes, PostgreSQL refuses the password and the app is locked out, whatever the env file says.',
        `Rotate before then (rekey sets the configured validUntil with the new password), or \`ALTER ROLE … VALID UNTIL 'infinity'\`.`,
        expirySeverity(ctx, note.at ?? ''),
      );
    case 'password-encryption':
      return finding(
        RULES.encryption,
        key,
        note,
        'md5 hashes are weak and replayable; PostgreSQL is removing md5 password support.',
        "Set `password_encryption = 'scram-sha-256'` in postgresql.conf (reload), then rotate so stored passwords become SCRAM.",
      );
    case 'objects-owned-by-login-role':
      return finding(
        RULES.owned,
        key,
        note,
        'After the next alternation the app logs in as the other role, which cannot use these objects.',
        'REASSIGN OWNED BY the login role TO the application role (memberOf), and create objects after SET ROLE.',
      );
    case 'no-password':
      return finding(
        RULES.nopass,
        key,
        note,
        'Anyone who reaches the port has the data and the sessions.',
        'Give the user a password (`ACL SETUSER <user> resetpass >…`), then let rekey rotate it.',
      );
    case 'not-persistable':
      return finding(
        RULES.persist,
        key,
        note,
        'After a Redis restart the old password is back (or the one on its command line), and the app is locked out.',
        'Run Redis with a config file or an aclfile (`aclfile /etc/redis/users.acl`), so rekey can persist the change.',
      );
    case 'default-password':
      return finding(
        RULES.defaults,
        key,
        note,
        'Scanners try installer defaults first; this one opens the whole server.',
        'Set a random password for that role (`\\password postgres` in psql), or make it NOLOGIN.',
      );
    case undefined:
      if (note.level !== 'warn') return undefined;
      return finding(
        RULES.other,
        key,
        note,
        '`rekey plan` warns about it: a rotation may fail or not do what you expect.',
        'Read the warning; `rekey plan` shows it in context.',
      );
  }
}

export const servicesCheck: Check<DoctorContext> = {
  name: 'service traps',
  rules: Object.values(RULES),
  async run(ctx) {
    const env = ctx.values;
    const targets: Target[] = await createTargets(ctx.loaded.config.secrets, {
      env,
      configDir: ctx.loaded.dir,
      stateDir: ctx.loaded.stateDir,
    });
    const out: Finding[] = [];
    try {
      await Promise.all(
        targets.map(async (t) => {
          const cur = Object.fromEntries(t.keys.flatMap((k) => (env.has(k) ? [[k, env.get(k) ?? '']] : [])));
          try {
            const tctx = {
              trigger: 'scheduled' as const,
              log: silentLogger,
              signal: AbortSignal.timeout(INSPECT_TIMEOUT_MS),
            };
            const notes = [...(await t.inspect(tctx, cur)), ...((await t.probeDefaults?.(tctx, cur)) ?? [])];
            for (const note of notes) {
              const f = toFinding(ctx, t.key, note);
              if (f) out.push(f);
            }
          } catch (e) {
            out.push({
              rule: COULD_NOT_CHECK.id,
              severity: COULD_NOT_CHECK.severity,
              message: `could not check ${t.key}'s service: ${safeMessage(e)}`,
              why: `Its service traps (${Object.values(RULES)
                .map((r) => r.id)
                .join(', ')}) were not checked.`,
              fix: 'Make the service reachable with the current credentials (`rekey plan` shows the same error), then run rekey doctor again.',
              keys: [t.key],
            });
          }
        }),
      );
    } finally {
      await Promise.all(targets.map((t) => t.close?.().catch(() => {})));
    }
    return out;
  },
};
