/**
 * The layer rule of src/ (docs/ARCHITECTURE.md), as a report: ./layers.test.ts checks it on src/, and
 * test/targets/example-type.test.ts on a copy of src/ with an example secret type added.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Lowest first. A folder may import its own files and any folder before it. A name with `*` is a
 * layer of every file it matches (one folder level).
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['lib'],
  ['envfile'],
  ['config/pieces.ts'],
  ['targets/secret-type.ts'],
  ['targets/*/config.ts'],
  ['targets/registry.ts'],
  ['config'],
  ['notify'],
  ['engine/ports.ts'],
  ['deploy', 'stores'],
  ['targets'],
  ['sessions', 'verify'],
  ['engine'],
  ['backups'],
  ['governance'],
  ['policy'],
  ['doctor'],
  ['report'],
  ['dashboard'],
  ['cli'],
];
export const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));
const patterns = [...rank.keys()]
  .filter((n) => n.includes('*'))
  .map((n) => [n, new RegExp(`^${n.replaceAll('.', '\\.').replaceAll('*', '[^/]+')}$`)] as const);

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

export interface LayerReport {
  /** Top folders of src/ no layer names. */
  readonly unknownFolders: string[];
  /** Imports of a file of a layer at or above the importer's (`from → to`). */
  readonly up: string[];
  /** An adapter importing the engine beyond its ports, or the engine importing an adapter. */
  readonly adapters: string[];
  /** An adapter importing another adapter (what two share belongs below them). */
  readonly crossAdapters: string[];
  /** An engine file importing envfile/ or config/load.ts (it reaches them through the Store port and deps). */
  readonly engineReach: string[];
  /** Files importing each other, round a circle of any length. */
  readonly circles: string[][];
  /** `new URL('…', import.meta.url)` naming anything but a secret type's factory in its own folder. */
  readonly named: string[];
  /** Files importing a module by a computed name. */
  readonly computed: string[];
}

/** Reads every import of the .ts files under `src` and reports what breaks the layer rule. */
export function layerReport(src: string): LayerReport {
  const rel = (file: string) => path.relative(src, file).split(path.sep).join('/');
  const folderOf = (file: string) => rel(file).split('/')[0] ?? '';
  /** The layer of a file: its top folder, or a file (pattern) that is a layer of its own. */
  const layerOf = (file: string) => {
    const r = rel(file);
    if (rank.has(r)) return r;
    return patterns.find(([, re]) => re.test(r))?.[0] ?? folderOf(file);
  };
  const files = sources(src);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(src + path.sep))]));

  const folders = new Set(files.map(folderOf).filter((f) => !f.endsWith('.ts')));
  const unknownFolders = [...folders].filter((f) => !rank.has(f));

  const up: string[] = [];
  const adapters: string[] = [];
  const crossAdapters: string[] = [];
  const engineReach: string[] = [];
  const adapterLayers = new Set(['deploy', 'stores', 'targets', 'sessions', 'verify']);
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const t of targets) {
      const to = layerOf(t);
      const [fromFolder, toFolder] = [folderOf(file), folderOf(t)];
      if (adapterLayers.has(fromFolder) && adapterLayers.has(toFolder) && fromFolder !== toFolder)
        crossAdapters.push(`${rel(file)} → ${rel(t)}`);
      if (from === 'engine' && (to === 'envfile' || rel(t) === 'config/load.ts'))
        engineReach.push(`${rel(file)} → ${rel(t)}`);
      if (from !== to && (rank.get(to) ?? Infinity) >= (rank.get(from) ?? -1))
        up.push(`${rel(file)} → ${rel(t)}`);
      if ((adapterLayers.has(from) && to === 'engine') || (from === 'engine' && adapterLayers.has(to)))
        adapters.push(`${rel(file)} → ${rel(t)}`);
    }
  }

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
        c.push(rel(w));
      } while (w !== v);
      if (c.length > 1) circles.push(c.sort());
    }
  };
  for (const f of graph.keys()) if (!idx.has(f)) visit(f);

  const named: string[] = [];
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/new URL\(\s*'([^']+)',\s*import\.meta\.url\)/g)) {
      const target = path.resolve(path.dirname(file), m[1] ?? '').replace(/\.js$/, '.ts');
      const ok =
        layerOf(file) === 'targets/*/config.ts' &&
        path.dirname(target) === path.dirname(file) &&
        layerOf(target) === 'targets' &&
        files.includes(target);
      if (!ok) named.push(`${rel(file)} names ${rel(target)}`);
    }
  }
  const computed = files.filter((f) => /\bimport\(\s*[^'\s)]/.test(readFileSync(f, 'utf8'))).map(rel);
  return { unknownFolders, up, adapters, crossAdapters, engineReach, circles, named, computed };
}
