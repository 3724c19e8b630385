/**
 * Record MACs: each line of the audit log ends with `"mac":"<HMAC-SHA256>"` of the line's text
 * before it, under a key derived from the audit key (`key.ts`). Who cannot read the key cannot write
 * a record (or a chain head) that `rekey audit verify` accepts; readers of the log need no key to
 * check the chain and the anchor.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The MAC key: derived from the audit key, so the fingerprints and the MACs never share a key. */
export function macKeyOf(auditKey: Buffer): Buffer {
  return createHmac('sha256', auditKey).update('rekey audit record MAC v1').digest();
}

function hmac(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * The line of a record: `body` (the record's JSON, without `mac`) with its MAC as last field.
 *
 * @example
 * sealLine('{"seq":1}', key); // '{"seq":1,"mac":"9f…"}'
 */
export function sealLine(body: string, macKey: Buffer): string {
  return `${body.slice(0, -1)},"mac":"${hmac(macKey, body)}"}`;
}

const MAC_AT_END = /,"mac":"([0-9a-f]{64})"\}$/;

/** Whether a line carries a MAC (its last field). */
export function hasMac(line: string): boolean {
  return MAC_AT_END.test(line);
}

/** Whether a line's MAC is the one `sealLine` made under `macKey`. */
export function macValid(line: string, macKey: Buffer): boolean {
  const m = MAC_AT_END.exec(line);
  if (!m) return false;
  const body = `${line.slice(0, m.index)}}`;
  return same(hmac(macKey, body), m[1]!);
}

/** The MAC of a chain head (kept in `audit-head` and sent to the anchor). */
export function headMac(macKey: Buffer, seq: number, hash: string): string {
  return hmac(macKey, `rekey audit head ${seq} ${hash}`);
}

export function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
