// Writes schema/rekey.schema.json from the zod schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { rekeyJsonSchema } from '../dist/src/config/json-schema.js';

writeFileSync(
  new URL('../schema/rekey.schema.json', import.meta.url),
  `${JSON.stringify(rekeyJsonSchema(), null, 2)}\n`,
);
console.error('wrote schema/rekey.schema.json');
