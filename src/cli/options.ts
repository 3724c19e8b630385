/** Option parsers shared by the commands. */
import { RekeyError } from '../lib/errors.js';

/** `--only A,B --only C` → ['A', 'B', 'C']. */
export const list = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** A repeatable option: `--attach a --attach b` → ['a', 'b']. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A TCP port (0: any free port). */
export const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new RekeyError('ERR_USAGE', `--port: not a port: ${v}`);
  return n;
};
