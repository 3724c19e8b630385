/**
 * The forms a leaked secret takes, for the canary scans: the value, URL-encoded, hex (both cases),
 * base64 (standard and URL-safe alphabets, the secret at byte offset 0, 1 or 2 of a longer encoded
 * buffer: the characters that depend on the secret alone), and, for a secret of 16 characters or
 * more, any 8 consecutive characters of it. Written apart from src/lib/redact.ts on purpose: the
 * scans must not share the redactor's idea of what a leak is.
 */

/** Each form to look for, with a name for the failure message. */
export function leakProbes(secret: string): Array<{ form: string; text: string }> {
  const probes: Array<{ form: string; text: string }> = [{ form: 'exact', text: secret }];
  const url = encodeURIComponent(secret);
  if (url !== secret) probes.push({ form: 'url-encoded', text: url });
  const bytes = Buffer.from(secret, 'utf8');
  probes.push({ form: 'hex', text: bytes.toString('hex') });
  probes.push({ form: 'HEX', text: bytes.toString('hex').toUpperCase() });
  for (const offset of [0, 1, 2]) {
    // A distinct prefix per alignment; only characters whose 6 bits all come from the secret count.
    const encoded = Buffer.concat([Buffer.from('\xff\xfe'.slice(0, offset), 'latin1'), bytes]).toString(
      'base64',
    );
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = encoded.slice(first, last);
    probes.push({ form: `base64@${offset}`, text: core });
    probes.push({ form: `base64url@${offset}`, text: core.replaceAll('+', '-').replaceAll('/', '_') });
  }
  // An encoded form shorter than 8 characters would turn up in any base64 or hex text by chance.
  const kept = probes.filter((p) => p.form === 'exact' || p.text.length >= 8);
  probes.length = 0;
  probes.push(...kept);
  if (secret.length >= 16) {
    for (let i = 0; i + 8 <= secret.length; i++) {
      probes.push({ form: `substring[${i}..${i + 8})`, text: secret.slice(i, i + 8) });
    }
  }
  return probes;
}

/**
 * The first leak of any secret, in any form, in any of `texts` (a description without the value),
 * or undefined.
 *
 * @example
 * expect(findLeak([password], [stdout, stderr])).toBeUndefined();
 */
export function findLeak(secrets: Iterable<string>, texts: Iterable<string>): string | undefined {
  const probes = [...secrets].flatMap((s, n) => leakProbes(s).map((p) => ({ ...p, n })));
  let i = 0;
  for (const t of texts) {
    for (const p of probes) {
      if (p.text.length > 0 && t.includes(p.text)) return `secret #${p.n} (${p.form}) found in text #${i}`;
    }
    i++;
  }
  return undefined;
}

/** How many times any form of any secret occurs in `texts` (for the resilience rows). */
export function leakOccurrences(secrets: Iterable<string>, texts: Iterable<string>): number {
  const probes = [...secrets].flatMap((s) => leakProbes(s).map((p) => p.text));
  let n = 0;
  const all = [...texts];
  for (const p of probes) for (const t of all) n += t.split(p).length - 1;
  return n;
}
