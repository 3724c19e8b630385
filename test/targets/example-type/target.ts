/**
 * The file-token target: the token file is the service. Stage writes the new token into it, test and
 * verify read it back, revert writes the old one again; the file holds one token, so no overlap.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../../lib/errors.js';
import { writeFileAtomic } from '../../lib/fsx.js';
import { generate } from '../../lib/generate.js';
import type { SecretConfigOf } from '../registry.js';
import { specFor } from '../spec.js';
import type { CheckResult, Target, TargetContext, TargetDescription, Values } from '../types.js';
import { fileTokenType } from './config.js';

export function fileTokenTarget(secret: SecretConfigOf<'file-token'>, configDir: string): Target {
  const file = path.resolve(configDir, secret.path);
  const keys = fileTokenType.ownedKeys(secret);
  const read = () =>
    fs.readFile(file, 'utf8').then(
      (t) => t.trim(),
      () => undefined,
    );
  const holds = async (value: string | undefined) => value !== undefined && (await read()) === value;
  const write = (value: string | undefined) => writeFileAtomic(file, `${value ?? ''}\n`, { mode: 0o600 });

  return {
    key: secret.key,
    type: secret.type,
    keys: keys.written,
    secretKeys: keys.secret,
    describe(): TargetDescription {
      return { fileOnly: false, overlap: false, retiresOld: true, actions: [`new token in ${secret.path}`] };
    },
    inspect: async () => [],
    async checkCurrent(_ctx: TargetContext, cur: Values) {
      if (!(await holds(cur[secret.key])))
        throw new RekeyError('ERR_TARGET_AUTH', `${secret.path} does not hold the current ${secret.key}`);
    },
    generate: () => ({ [secret.key]: generate(specFor(secret)) }),
    stage: (_ctx: TargetContext, _cur: Values, next: Values) => write(next[secret.key]),
    async test(_ctx: TargetContext, next: Values) {
      if (!(await holds(next[secret.key])))
        throw new RekeyError('ERR_TARGET_AUTH', `${secret.path} does not hold the new ${secret.key}`);
    },
    async verify(_ctx: TargetContext, next: Values): Promise<CheckResult[]> {
      const ok = await holds(next[secret.key]);
      return [
        {
          name: secret.key,
          target: secret.key,
          ok,
          detail: ok ? `${secret.path} holds it` : 'not in the file',
        },
      ];
    },
    finish: async () => {},
    revert: (_ctx: TargetContext, cur: Values) => write(cur[secret.key]),
  };
}
