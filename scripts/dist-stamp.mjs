#!/usr/bin/env node
/**
 * What dist/ was built from: a digest of every input of `npm run build` (the TypeScript sources of
 * src/, demo/ and bench/, the tsconfig files, package.json and the compiler's version), kept in
 * dist/.build-stamp. The tests spawn dist/, so vitest's global setup (test/global-setup.ts) rebuilds
 * unless the stamp matches the sources: a plain `npx vitest run` never tests stale code.
 *
 * `npm run build` calls `begin` before tsc (removes the stamp, notes the digest of the sources as
 * they are now) and `end` after it succeeded (makes that digest the stamp). A source edited while tsc
 * runs leaves a stamp that no longer matches: the next test run builds again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['src', 'demo', 'bench'];
const SKIP_DIRS = new Set(['node_modules', 'results']);
const FILES = [
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'node_modules/typescript/package.json',
];
const TS = /\.(c|m)?tsx?$/;

/** Relative paths of every build input under `root`, sorted. */
export function buildInputs(root = ROOT) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(p);
      } else if (TS.test(e.name)) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) if (existsSync(path.join(root, d))) walk(d);
  for (const f of FILES) if (existsSync(path.join(root, f))) out.push(f);
  return out.sort();
}

/** sha256 over the build inputs' paths and contents. */
export function sourceDigest(root = ROOT) {
  const h = createHash('sha256');
  for (const rel of buildInputs(root)) {
    h.update(`${rel}\0`);
    h.update(readFileSync(path.join(root, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

export function stampFile(root = ROOT) {
  return path.join(root, 'dist', '.build-stamp');
}

/** The digest dist/ was last built from, or undefined (never built by `npm run build`, or a build failed). */
export function readStamp(root = ROOT) {
  try {
    return readFileSync(stampFile(root), 'utf8').trim();
  } catch {
    return undefined;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const stamp = stampFile();
  const pending = `${stamp}.pending`;
  const step = process.argv[2];
  if (step === 'begin') {
    rmSync(stamp, { force: true });
    mkdirSync(path.dirname(stamp), { recursive: true });
    writeFileSync(pending, `${sourceDigest()}\n`);
  } else if (step === 'end') {
    renameSync(pending, stamp);
  } else {
    console.error('usage: node scripts/dist-stamp.mjs begin|end');
    process.exit(2);
  }
}
