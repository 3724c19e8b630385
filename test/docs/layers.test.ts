/**
 * Every import arrow in src/ points down (docs/ARCHITECTURE.md): a module imports only modules of a
 * lower layer (or its own folder), src/lib/ imports nothing of the project, and no two files import
 * each other, directly or round a longer circle. Read from the sources, so a new upward arrow or
 * circle fails here with its file names.
 *
 * The file engine/ports.ts (the interfaces the engine drives: Target, SessionInvalidator, Deployer,
 * Verifier, Store) is a layer of its own, just above config: the adapters (deploy, stores, targets,
 * sessions, verify) implement the ports and may import that file, never the rest of the engine.
 *
 * A secret type has two parts at two heights. Its config part (targets/<type>/config.ts: schema, owned
 * keys, `rekey init` detection, unattended default), the one list of types (targets/registry.ts) and
 * what they share (targets/secret-type.ts, config/pieces.ts) sit below config, which assembles the
 * secret union from the registry. Its target (driver, `kind.ts` factory) sits in the targets layer.
 * The config part names its factory module by URL (data, never loaded there); only targets/index.ts
 * loads it, from the targets layer: the last tests keep that indirection this narrow.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { layerReport } from './layers.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');
const report = layerReport(SRC);

describe('layers', () => {
  it('knows every folder of src/', () => {
    expect(report.unknownFolders).toEqual([]);
  });

  it('has every import arrow pointing down', () => {
    expect(report.up).toEqual([]);
  });

  it('has the adapters import only the ports of the engine, and the engine import no adapter', () => {
    expect(report.adapters).toEqual([]);
  });

  it('has no adapter import another adapter (what two share lives below them, e.g. lib/redis.ts)', () => {
    const wrong = report.crossAdapters;
    expect(wrong).toEqual([]);
  });

  it('has the engine reach the env file only through the Store port, and never the loaded config', () => {
    const wrong = report.engineReach;
    expect(wrong).toEqual([]);
  });

  it('has no circle between files', () => {
    expect(report.circles).toEqual([]);
  });

  it("has a module named by URL only as a secret type's factory, in its own folder and the targets layer", () => {
    expect(report.named).toEqual([]);
  });

  it('has only targets/index.ts import a module by a computed name (the factory a type names)', () => {
    expect(report.computed).toEqual(['targets/index.ts']);
  });
});
