/** The command type: any service, rotated by the operator's own script. */
import { z } from 'zod';
import { commonSecretFields, duration } from '../../config/pieces.js';
import { secretType, slots } from '../secret-type.js';

export const commandType = secretType({
  type: 'command',
  schema: z.strictObject({
    ...commonSecretFields,
    type: z.literal('command'),
    run: z
      .string()
      .min(1)
      .describe('Shell command run for every operation; reads {op,key,trigger,cur,next} as JSON on stdin.'),
    overlap: z
      .boolean()
      .default(false)
      .describe('True when the service accepts old and new together between stage and finish.'),
    timeout: duration.default('60s'),
  }),
  ownedKeys: (s) => slots(s.key),
  unattendedByDefault: false,
  factory: new URL('./kind.js', import.meta.url).href,
});
