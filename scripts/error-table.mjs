// Rewrites the error-code table in docs/errors.md from src/lib/errors.ts (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../dist/src/lib/errors.js';

const file = new URL('../docs/errors.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const begin = text.indexOf('<!-- ERROR-CODES:BEGIN');
const end = text.indexOf('<!-- ERROR-CODES:END -->');
if (begin < 0 || end < 0) throw new Error('docs/errors.md lacks the ERROR-CODES markers');
const head = text.slice(begin, text.indexOf('\n', begin) + 1);
const rows = Object.entries(ERROR_CODES)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([code, { exit, hint }]) => `| \`${code}\` | ${exit} | ${hint.replace(/\|/g, '\\|')} |`);
const table = ['| code | exit | what to do |', '|---|---|---|', ...rows, ''].join('\n');
writeFileSync(file, text.slice(0, begin) + head + table + text.slice(end));
console.error(`docs/errors.md: ${rows.length} error codes`);
