/**
 * Every import arrow in src/ points down (docs/ARCHITECTURE.md): a module imports only modules of a
 * lower layer (or its own folder), src/lib/ imports nothing of the project, and no two files import
 * each other, directly or round a longer circle. Read from the sources, so a new upward arrow or
 * circle fails here with its file names.
 *
 * The file engine/ports.ts (the interfaces the engine drives: Target, SessionInvalidator, Deployer,
 * Verifier, Store) is a layer of its own, just above config: the adapters (deploy, stores, targets, sessions,
 * verify) implement the ports and may import that file, never the rest of the engine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Lowest first. A folder may import its own files and any folder before it. */
const LAYERS: readonly (readonly string[])[] = [
  ['lib'],
  ['envfile'],
  ['config'],
  ['engine/ports.ts'],
  ['deploy', 'stores'],
  ['targets'],
  ['sessions', 'verify'],
  ['engine'],
  ['backups'],
  ['governance'],
  ['policy'],
  ['cli'],
];
const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, `export … from`, dynamic), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
    path.resolve(path.dirname(file), m[1] ?? '').replace(/\.js$/, '.ts'),
  );
}

const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0] ?? '';
/** The layer a file belongs to: its top folder, or a file that is a layer of its own (engine/ports.ts). */
const layerOf = (file: string) => {
  const rel = path.relative(SRC, file).split(path.sep).join('/');
  return rank.has(rel) ? rel : folderOf(file);
};
const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(SRC + path.sep))]));

describe('layers', () => {
  it('knows every folder of src/', () => {
    const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
    expect([...folders].filter((f) => !rank.has(f))).toEqual([]);
  });

  it('has every import arrow pointing down', () => {
    const up: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const t of targets) {
        const to = layerOf(t);
        if (from === to) continue;
        if ((rank.get(to) ?? Infinity) >= (rank.get(from) ?? -1))
          up.push(`${path.relative(SRC, file)} → ${path.relative(SRC, t)}`);
      }
    }
    expect(up).toEqual([]);
  });

  it('has the adapters import only the ports of the engine, and the engine import no adapter', () => {
    const adapters = new Set(['deploy', 'stores', 'targets', 'sessions', 'verify']);
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const t of targets) {
        const to = layerOf(t);
        if ((adapters.has(from) && to === 'engine') || (from === 'engine' && adapters.has(to)))
          wrong.push(`${path.relative(SRC, file)} → ${path.relative(SRC, t)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has the engine reach the env file only through the Store port, and never the loaded config', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      if (layerOf(file) !== 'engine') continue;
      for (const t of targets) {
        const rel = path.relative(SRC, t).split(path.sep).join('/');
        if (layerOf(t) === 'envfile' || rel === 'config/load.ts')
          wrong.push(`${path.relative(SRC, file)} → ${rel}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no circle between files', () => {
    // Tarjan's strongly connected components: any component of more than one file is a circle.
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const circles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          c.push(path.relative(SRC, w));
        } while (w !== v);
        if (c.length > 1) circles.push(c.sort());
      }
    };
    for (const f of graph.keys()) if (!idx.has(f)) visit(f);
    expect(circles).toEqual([]);
  });
});
