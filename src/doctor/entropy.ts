/**
 * A conservative estimate of a secret's strength in bits, from the value alone: length × log2 of the
 * alphabet its character classes span (hex counted as 16), unless its characters repeat far more than
 * random ones would (their Shannon entropy per character under 3/4 of the most the length and
 * alphabet allow), then length × that entropy. A random 32-byte base64url value scores ~258, 16 random
 * bytes as hex 128, `password123` ~57, `abababab…` (32 chars) 32. It cannot see that a value came
 * from a dictionary or a weak generator: a low score is a sure finding, a high one no proof.
 */

const CLASSES: ReadonlyArray<readonly [RegExp, number]> = [
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[0-9]/, 10],
  [/[^a-zA-Z0-9]/, 33],
];

/**
 * @example
 * estimateBits(randomBytes(32).toString('base64url')); // ≈ 258
 * estimateBits('password123'); // ≈ 57
 */
export function estimateBits(value: string): number {
  const chars = [...value];
  const n = chars.length;
  if (n === 0) return 0;
  const hex = /^[0-9a-f]+$/.test(value) || /^[0-9A-F]+$/.test(value);
  const alphabet = Math.max(
    2,
    hex && /[a-fA-F]/.test(value)
      ? 16
      : CLASSES.reduce((k, [re, size]) => (re.test(value) ? k + size : k), 0),
  );
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const c of counts.values()) perChar -= (c / n) * Math.log2(c / n);
  const most = Math.log2(Math.min(n, alphabet));
  const repetitive = n > 1 && perChar < 0.75 * most;
  return repetitive ? n * perChar : n * Math.log2(alphabet);
}
