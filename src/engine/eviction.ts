/**
 * The eviction report of a compromise rotation: "what an attacker could still use", per service.
 * The engine stays generic: each target says what it removed or found through its optional
 * `evictions()` (see Target); when it has nothing in memory (its finish ran in another process: a
 * crash, then `rekey recover`), its read-only `checkFootholds` looks afresh, and the text says so; a
 * target with neither is said to be not checked, with the reason. `rekey verify --trigger compromise`
 * runs the same read-only checks on their own ({@link footholdReport}).
 * An empty list for a service never happens: "checked and clean" is a finding of its own.
 */

import { safeMessage } from '../lib/redact.js';
import type { Journal } from './journal.js';
import type { EvictionFinding, Target, TargetContext, Values } from './ports.js';

/** Ends the text of a finding from a fresh read-only look (not what this process's finish did). */
export const FRESH =
  ' (fresh check: finish ran in another process, and what it removed there is not known here)';

/**
 * The findings of a finished compromise rotation, or undefined for any other run.
 *
 * @example
 * const eviction = await evictionReport(run.journal, (key) => run.target(key), run.ctx, 'the Vault secret');
 * // [{ service: 'Redis 127.0.0.1:6379 (REDIS_PASSWORD)', foothold: 'passwords', status: 'removed', … }]
 */
export async function evictionReport(
  journal: Journal,
  target: (key: string) => Target,
  ctx: TargetContext,
  where = 'the env file',
): Promise<EvictionFinding[] | undefined> {
  if (journal.trigger !== 'compromise' || journal.kind !== 'rotate') return undefined;
  const findings: EvictionFinding[] = [];
  for (const jt of journal.targets) {
    const t = target(jt.key);
    const own = t.evictions?.();
    if (own && own.length > 0) {
      findings.push(...own);
      continue;
    }
    const service = `${t.key} (${t.type})`;
    if (t.describe('compromise').fileOnly) {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'removed',
        text: `held only in ${where}: the old value is gone from it (no previous slot kept on compromise)`,
      });
    } else if (t.checkFootholds) {
      // Finish ran in another process (crash, then `rekey recover`): look again, read-only.
      findings.push(
        ...(await fresh(t, ctx, jt.new)).map((f) => ({
          ...f,
          text: `${f.text}${FRESH}`,
        })),
      );
    } else {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'unchecked',
        text: `could not check: the ${t.type} target ${own ? 'found nothing to report in this process (finish ran in `rekey recover`?)' : 'has no eviction checks'}; sessions, tokens or users an attacker created there are not looked for`,
      });
    }
  }
  const purge = journal.steps.find((s) => s.id === 'invalidate:sessions');
  findings.push(
    purge?.state === 'done'
      ? {
          service: 'app sessions',
          foothold: 'sessions',
          status: 'removed',
          text: 'sessions purged (sessions.redis)',
        }
      : {
          service: 'app sessions',
          foothold: 'sessions',
          status: 'unchecked',
          text: 'could not check: no `sessions` configured, app sessions issued before the rotation stay valid unless the app ties them to a rotated secret',
        },
  );
  return findings;
}

/**
 * `rekey verify --trigger compromise`: what an attacker could still use now, looked for read-only
 * with what the store holds (`cur` of each target); `where` names it (`the env file`, `the Vault
 * secret`). Changes nothing anywhere.
 *
 * @example
 * await footholdReport(targets.map((t) => ({ target: t, cur: valuesOf(t, env) })), ctx);
 */
export async function footholdReport(
  targets: readonly { readonly target: Target; readonly cur: Values }[],
  ctx: TargetContext,
  where = 'the env file',
): Promise<EvictionFinding[]> {
  const findings: EvictionFinding[] = [];
  for (const { target: t, cur } of targets) {
    const service = `${t.key} (${t.type})`;
    if (t.checkFootholds) findings.push(...(await fresh(t, ctx, cur)));
    else if (t.describe('compromise').fileOnly) findings.push(fileOnly(t, cur, service, where));
    else {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'unchecked',
        text: `could not check: the ${t.type} target has no read-only eviction checks; passwords, sessions, tokens or users an attacker created there are not looked for`,
      });
    }
  }
  findings.push({
    service: 'app sessions',
    foothold: 'sessions',
    status: 'unchecked',
    text: 'could not check: sessions the app issued are not inspected by `rekey verify` (a compromise rotation purges them when `sessions` is configured)',
  });
  return findings;
}

/** A target's own read-only look; a throw becomes "could not check" (never a secret: safeMessage). */
async function fresh(t: Target, ctx: TargetContext, cur: Values): Promise<EvictionFinding[]> {
  try {
    const found = await t.checkFootholds!(ctx, cur);
    if (found.length > 0) return [...found];
    return [
      {
        service: `${t.key} (${t.type})`,
        foothold: 'passwords',
        status: 'clean',
        text: 'nothing found',
      },
    ];
  } catch (err) {
    return [
      {
        service: `${t.key} (${t.type})`,
        foothold: 'passwords',
        status: 'unchecked',
        text: `could not check: ${safeMessage(err)}`,
      },
    ];
  }
}

/**
 * What a file-held secret (jwt, api-key) can honestly say: the app accepts what the env file holds,
 * so the only way back in with an old value is a previous slot that still holds one.
 */
function fileOnly(t: Target, cur: Values, service: string, where: string): EvictionFinding {
  const slots = t.keys.filter((k) => k !== t.key);
  const held = slots.filter((k) => (cur[k] ?? '') !== '');
  if (held.length > 0) {
    return {
      service,
      foothold: 'passwords',
      status: 'reported',
      text: `${held.join(', ')} holds a previous value, which the app still accepts (grace slot of a non-compromise rotation): run \`rekey rotate --trigger compromise --only ${t.key}\` to empty it`,
    };
  }
  return {
    service,
    foothold: 'passwords',
    status: 'clean',
    text:
      slots.length > 0
        ? `held only in ${where}, whose previous slot ${slots.join(', ')} is empty: no old value is accepted`
        : `held only in ${where}, which keeps no previous value: no old value is accepted`,
  };
}
