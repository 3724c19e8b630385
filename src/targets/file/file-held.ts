/**
 * Secrets whose only "service" is the env file itself (jwt, api-key, generic): the app reads them at
 * start, so committing the file and redeploying is the whole change. Staging, testing and retiring are
 * no-ops; the grace slot (`previousKey`) keeps the old value so tokens and clients in flight keep
 * working, and is emptied at once on `--trigger compromise`.
 */

import type { SecretConfig, Trigger } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import { ownedKeys } from '../registry.js';
import { specFor } from '../spec.js';
import type { CheckResult, PlanNote, Target, TargetContext, TargetDescription, Values } from '../types.js';

type FileSecret = Extract<SecretConfig, { type: 'jwt' | 'api-key' | 'generic' }>;

/**
 * @example
 * const t = fileHeldTarget({ key: 'JWT_SECRET', type: 'jwt', previousKey: 'JWT_SECRET_PREVIOUS' });
 * t.generate(ctx, { JWT_SECRET: 'old' }); // { JWT_SECRET: '<new>', JWT_SECRET_PREVIOUS: 'old' }
 */
export function fileHeldTarget(secret: FileSecret): Target {
  const spec = specFor(secret);
  const previousKey = secret.type === 'generic' ? undefined : secret.previousKey;
  const keys = ownedKeys(secret).written;

  return {
    key: secret.key,
    type: secret.type,
    keys,
    secretKeys: keys,

    describe(trigger: Trigger): TargetDescription {
      const actions = [`new ${describeSpec(secret)} value in ${secret.key}`];
      if (previousKey) {
        actions.push(
          trigger === 'compromise'
            ? `${previousKey} emptied (compromise: the old value is revoked at once)`
            : `${previousKey} keeps the old value (grace for tokens and clients in flight)`,
        );
      }
      return { fileOnly: true, overlap: true, retiresOld: trigger === 'compromise' || !previousKey, actions };
    },

    async inspect(): Promise<PlanNote[]> {
      return [];
    },

    async checkCurrent(_ctx: TargetContext, cur: Values): Promise<void> {
      if (!cur[secret.key]) {
        throw new RekeyError('ERR_ENVFILE_MISSING_KEY', `${secret.key} is missing or empty in the env file`);
      }
    },

    generate(ctx: TargetContext, cur: Values): Values {
      const next: Record<string, string> = { [secret.key]: generate(spec) };
      if (previousKey) next[previousKey] = ctx.trigger === 'compromise' ? '' : (cur[secret.key] ?? '');
      return next;
    },

    async stage(): Promise<void> {},
    async test(_ctx: TargetContext, next: Values): Promise<void> {
      if (!next[secret.key]) throw new RekeyError('ERR_INTERNAL', `${secret.key}: empty new value`);
    },
    async finish(): Promise<void> {},
    async revert(): Promise<void> {},

    async verify(_ctx: TargetContext, next: Values): Promise<CheckResult[]> {
      const ok = Boolean(next[secret.key]);
      return [
        {
          name: secret.key,
          target: secret.key,
          ok,
          detail: ok ? 'set' : 'missing', // where: the stack's store (the env file or a managed one)
          expected: 'set',
        },
      ];
    },
  };
}

function describeSpec(secret: FileSecret): string {
  const spec = specFor(secret);
  return spec.kind === 'bytes' ? `${spec.bytes}-byte base64url` : `${spec.length}-character`;
}
