/** The deploy runner's captured output: every known secret masked, however the output is chunked. */
import { describe, expect, it } from 'vitest';
import { redactor } from '../../src/core/redact.js';
import { runCommand } from '../../src/deploy/run.js';
import { tempDir } from '../helpers/tmp.js';

describe('runCommand output', () => {
  it('masks a non-ASCII secret whose character is split across two output chunks', async () => {
    const secret = 'pässwörd-Ünïcode-7f3a9c2e';
    redactor.add('TEST_UNICODE_SECRET', secret);
    // 'ä' is 0xC3 0xA4: the first byte ends one write, the second starts the next (a pause between
    // them makes two chunks on the pipe).
    const command = `printf 'secret: p\\303'; sleep 0.3; printf '\\244sswörd-Ünïcode-7f3a9c2e done\\n'`;
    const r = await runCommand(command, { cwd: await tempDir(), timeoutMs: 10_000, secretKeys: [] });
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe('secret: [REDACTED:TEST_UNICODE_SECRET] done\n');
  });
});
