/**
 * The JSON Schema of rekey.yaml, generated from the zod schema so editors complete and check the
 * file (`# yaml-language-server: $schema=...`). `npm run schema` writes schema/rekey.schema.json; a
 * test fails when the committed file is stale.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * @example
 * JSON.stringify(rekeyJsonSchema(), null, 2);
 */
export function rekeyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://github.com/rekey/rekey/schema/rekey.schema.json',
    title: 'rekey.yaml',
    description: 'What rekey rotates and how: secrets, deploy, sessions, verification, policy, approvals.',
  };
}
