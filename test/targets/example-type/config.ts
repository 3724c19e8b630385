/**
 * The example secret type of docs/secret-types.md ("Adding a secret type"): `file-token`, a token the
 * service reads from a file (a Docker secret file, say), kept in the env file under `key` as well.
 * Written as src/targets/file-token/config.ts; test/targets/example-type.test.ts copies it there.
 */
import { z } from 'zod';
import { commonSecretFields } from '../../config/pieces.js';
import { secretType, slots } from '../secret-type.js';

export const fileTokenType = secretType({
  type: 'file-token',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('file-token'),
    path: z.string().min(1).describe('The file the service reads the token from, relative to rekey.yaml.'),
  }),
  ownedKeys: (s) => slots(s.key),
  unattendedByDefault: false,
  defaultBytes: 32,
  detect: (env) =>
    env.has('FILE_TOKEN')
      ? { key: 'FILE_TOKEN', lines: ['  - { key: FILE_TOKEN, type: file-token, path: token.txt }'] }
      : undefined,
  factory: new URL('./kind.js', import.meta.url).href,
});
