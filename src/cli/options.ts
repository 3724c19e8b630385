/** Option parsers and the option declarations several commands share (each command declares its own). */
import { Option } from 'commander';
import { TRIGGERS, type Trigger } from '../config/triggers.js';
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

/** `--json`, the same on every command that prints a document. */
export const jsonOption = (description = 'print one JSON document on stdout') =>
  new Option('--json', description);

/** `--trigger`: why the rotation happens (plan, rotate, verify), `scheduled` by default. */
export const triggerOption = (description = 'why the rotation happens') =>
  new Option('--trigger <trigger>', description).choices(TRIGGERS).default('scheduled' as Trigger);

/** `--only KEYS` (plan, rotate, request). */
export const onlyOption = () => new Option('--only <keys>', 'comma-separated keys to rotate').argParser(list);

/** `--force` (plan, rotate, request). */
export const forceOption = (description = 'with --trigger personnel, honour --only') =>
  new Option('--force', description);

/** `--key` of a break-glass statement (rotate, rollback). */
export const breakGlassKeyOption = () =>
  new Option(
    '--key <path>',
    'with --break-glass: your SSH key; signs the break-glass statement (default: the OS user is recorded)',
  );
