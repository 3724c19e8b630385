/** Reading a Prometheus text exposition in tests. */

/**
 * The `name{labels} value` lines of an exposition, comments dropped.
 *
 * @example
 * samples('# HELP x\nx{a="1"} 2\n').get('x{a="1"}'); // 2
 */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
