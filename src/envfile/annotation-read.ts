/**
 * The `# LastSecretRotation:` date of an env file (or a backup of one) without reading its values
 * into memory: the bytes are scanned in small blocks in one reused buffer, wiped after, and only a
 * line that begins with the annotation prefix is ever decoded to a string.
 */
import { promises as fs } from 'node:fs';
import { ANNOTATION_PREFIX, readAnnotation } from './annotation.js';
import { parseEnv } from './parse.js';

const PREFIX = Buffer.from(ANNOTATION_PREFIX, 'utf8');
/** Longer than any annotation line; a longer line starting with the prefix is not one. */
const MAX_LINE = 256;
const BLOCK = 512;

/**
 * The date of the first annotation line holding a valid date (as {@link readAnnotation} reads it),
 * or undefined. Stops reading at that line. Unlike a full parse it cannot tell a line inside a
 * multi-line quoted value from a comment: such a line that looks like an annotation is taken for one
 * (rekey never generates values with line breaks). Throws the file system's error (ENOENT...).
 *
 * @example
 * await readAnnotationOnly('.env.production.backup-20261125T100000Z'); // 2026-08-27T10:00:00.000Z
 */
export async function readAnnotationOnly(file: string): Promise<Date | undefined> {
  const handle = await fs.open(file, 'r');
  const block = Buffer.alloc(BLOCK);
  const line = Buffer.alloc(MAX_LINE);
  let lineLength = 0;
  /** `match`: comparing a line's start with the prefix; `take`: copying a candidate; `skip`: to the next line. */
  let mode: 'match' | 'take' | 'skip' = 'match';
  let first = true;
  const candidate = (): Date | undefined => {
    const text = line.subarray(0, lineLength).toString('utf8');
    return readAnnotation(parseEnv(`${text}\n`));
  };
  try {
    for (;;) {
      const { bytesRead } = await handle.read(block, 0, BLOCK, null);
      if (bytesRead === 0) break;
      let i = 0;
      if (first && bytesRead >= 3 && block[0] === 0xef && block[1] === 0xbb && block[2] === 0xbf) i = 3;
      first = false;
      for (; i < bytesRead; i++) {
        const b = block[i] as number;
        if (b === 0x0a) {
          if (mode === 'take') {
            const when = candidate();
            if (when !== undefined) return when;
          }
          mode = 'match';
          lineLength = 0;
          continue;
        }
        if (mode === 'skip') continue;
        if (mode === 'match') {
          if (b !== PREFIX[lineLength]) {
            mode = 'skip';
            continue;
          }
          line[lineLength++] = b;
          if (lineLength === PREFIX.length) mode = 'take';
          continue;
        }
        if (lineLength === MAX_LINE) {
          mode = 'skip';
          continue;
        }
        line[lineLength++] = b;
      }
    }
    return mode === 'take' ? candidate() : undefined;
  } finally {
    block.fill(0);
    line.fill(0);
    await handle.close().catch(() => {});
  }
}
