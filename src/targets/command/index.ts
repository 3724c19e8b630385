/**
 * `type: command`: a secret held by a service rekey has no built-in adapter for, driven by a script
 * of yours. The script is run (through `/bin/sh -c`) once per operation and reads one JSON document
 * on stdin — `{ "op", "key", "trigger", "cur": {KEY: value}, "next": {KEY: value} }` — so values never
 * appear in argv or the environment. Ops: `check` (does the service accept `cur`?), `stage`, `test`
 * (does it accept `next`?), `finish`, `revert`. Exit 0: done. Exit 3 from `check`/`test`: the
 * credential is rejected. Any other exit: failure, with the last line of output (redacted) as reason.
 * Every op must be idempotent, as for the built-in targets.
 */

import { ms } from '../../config/load.js';
import type { SecretConfigOf, Trigger } from '../../config/schema.js';
import { lastLines, runCommand } from '../../lib/command.js';
import { RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import { ownedKeys } from '../registry.js';
import { specFor } from '../spec.js';
import type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from '../types.js';

export const REJECTED_EXIT = 3;

type Op = 'check' | 'stage' | 'test' | 'finish' | 'revert';

/**
 * @example
 * commandTarget({ key: 'FOO_TOKEN', type: 'command', run: './foo-rotate.sh', overlap: false, timeout: '60s' }, dir);
 */
export function commandTarget(secret: SecretConfigOf<'command'>, cwd: string): Target {
  const spec = specFor(secret);
  const keys = ownedKeys(secret).written;

  const call = async (ctx: TargetContext, op: Op, cur: Values, next: Values): Promise<number> => {
    const result = await runCommand(secret.run, {
      cwd,
      timeoutMs: ms(secret.timeout),
      secretKeys: keys,
      input: JSON.stringify({ op, key: secret.key, trigger: ctx.trigger, cur, next }),
    });
    if (result.timedOut)
      throw new RekeyError(
        'ERR_TARGET_UNREACHABLE',
        `${secret.key}: ${op} timed out after ${secret.timeout}`,
      );
    if (result.exitCode === 0 || result.exitCode === REJECTED_EXIT) return result.exitCode;
    const why = lastLines(result.output, 1)[0] ?? '';
    throw new RekeyError(
      'ERR_TARGET_REJECTED',
      `${secret.key}: ${op} failed (exit ${result.exitCode ?? result.signal})${why ? `: ${why}` : ''}`,
    );
  };
  const mustAccept = async (ctx: TargetContext, op: Op, cur: Values, next: Values, which: string) => {
    if ((await call(ctx, op, cur, next)) === REJECTED_EXIT) {
      throw new RekeyError('ERR_TARGET_AUTH', `${secret.key}: the service rejects the ${which} value`);
    }
  };
  const mustSucceed = async (ctx: TargetContext, op: Op, cur: Values, next: Values) => {
    if ((await call(ctx, op, cur, next)) !== 0)
      throw new RekeyError('ERR_TARGET_REJECTED', `${secret.key}: ${op} refused`);
  };

  return {
    key: secret.key,
    type: secret.type,
    keys,
    secretKeys: keys,
    describe(_trigger: Trigger): TargetDescription {
      return {
        fileOnly: false,
        overlap: secret.overlap,
        retiresOld: true,
        actions: [`run \`${secret.run}\` for stage, test, finish (and revert on failure)`],
      };
    },
    async inspect(): Promise<PlanNote[]> {
      return [];
    },
    checkCurrent: (ctx, cur) => mustAccept(ctx, 'check', cur, cur, 'current'),
    generate: () => ({ [secret.key]: generate(spec) }),
    stage: (ctx, cur, next) => mustSucceed(ctx, 'stage', cur, next),
    test: (ctx, next) => mustAccept(ctx, 'test', next, next, 'new'),
    finish: (ctx, cur, next) => mustSucceed(ctx, 'finish', cur, next),
    revert: (ctx, cur, next) => mustSucceed(ctx, 'revert', cur, next),
    async verify(ctx, next, previous, retired): Promise<CheckResult[]> {
      const rows: CheckResult[] = [];
      const accepted = (await call(ctx, 'check', next, next)) === 0;
      rows.push({
        name: secret.key,
        target: secret.key,
        ok: accepted,
        detail: accepted ? 'accepted' : 'REJECTED',
        expected: 'accepted',
      });
      if (retired && previous && previous[secret.key] !== next[secret.key]) {
        const old = (await call(ctx, 'check', previous, previous)) === REJECTED_EXIT;
        rows.push({
          name: `${secret.key} (old)`,
          target: secret.key,
          ok: old,
          detail: old ? 'rejected' : 'still ACCEPTED',
          expected: 'rejected',
        });
      }
      return rows;
    },
  };
}
