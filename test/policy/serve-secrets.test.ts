/**
 * `rekey serve` holds no secret value (attacker's view: a metrics process is the most exposed one).
 * A stack whose env file and backups hold distinct canary values: serve's scrapes never read a
 * backup whole (only its annotation line, in one small block), never read the env file at each scrape,
 * register no value with the redactor, and a second scrape of unchanged files reads none of them again.
 * Everything serve keeps (the config, the annotation dates, the inputs it computes) is scanned for the
 * canaries in every encoding.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadStackConfig } from '../../src/config/load.js';
import { readAnnotation } from '../../src/envfile/annotation.js';
import { readAnnotationOnly } from '../../src/envfile/annotation-read.js';
import { parseEnv } from '../../src/envfile/parse.js';
import { isRekeyError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import { redactor } from '../../src/lib/redact.js';
import { readPolicyInputs } from '../../src/policy/inputs.js';
import { MetricsSource, serveMetrics } from '../../src/policy/serve.js';
import { record } from '../helpers/resilience.js';
import { tempDir } from '../helpers/tmp.js';
import { NOW, writePendingJournal } from './helpers.js';

/** Distinct canaries: current values, and each backup's (older) values. */
const canary = (tag: string) => `Cn${tag}q7ZpX2vR9kW4mT6yB8nJ3sL5dF1hG0`;
const KEYS = ['JWT_SECRET', 'API_SECRET_KEY', 'DB_PASSWORD'] as const;
const BACKUPS = ['20260301T000000Z', '20260415T000000Z', '20260530T090000Z'];

function envText(annotation: string, tag: string): string {
  const filler = Array.from(
    { length: 40 },
    (_, i) => `# filler line ${i} of comments that say nothing at all`,
  );
  return [
    `# LastSecretRotation: ${annotation}`,
    'APP_USER=bi_app',
    ...filler,
    ...KEYS.map((k) => `${k}=${canary(`${tag}${k}`)}`),
    '',
  ].join('\n');
}

/** Every canary, in the forms a copy of it would take (raw, URL, JSON, base64 std/url at 3 offsets, hex). */
function canaryForms(): string[] {
  const values = ['cur', 'new', ...BACKUPS].flatMap((tag) => KEYS.map((k) => canary(`${tag}${k}`)));
  const forms = new Set<string>();
  for (const v of values) {
    forms.add(v);
    forms.add(encodeURIComponent(v));
    forms.add(JSON.stringify(v).slice(1, -1));
    forms.add(Buffer.from(v).toString('hex'));
    for (let shift = 0; shift < 3; shift++) {
      const b64 = Buffer.from(`${'x'.repeat(shift)}${v}`).toString('base64');
      // The part of the encoding that depends on the value alone (skip the prefix's chars and padding).
      const core = b64.slice(Math.ceil((shift * 4) / 3) + 1, -4);
      forms.add(core);
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms];
}

/** Every string reachable from `root` (own properties, enumerable or not; Map and Set entries). */
function strings(root: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Date) {
      out.push(v.toISOString());
      return;
    }
    if (v instanceof Map) {
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    }
    if (v instanceof Set) for (const x of v) walk(x);
    for (const name of Object.getOwnPropertyNames(v)) {
      const d = Object.getOwnPropertyDescriptor(v, name);
      if (d && 'value' in d) walk(d.value);
    }
  };
  walk(root);
  return out;
}

async function stack(): Promise<{ config: string; envFile: string; backups: string[]; journal: string }> {
  const dir = await tempDir('rekey-serve-secrets-');
  const config = path.join(dir, 'rekey.yaml');
  await fsp.writeFile(
    config,
    `envFile: .env.production
stack: prod
secrets:
  - { key: JWT_SECRET, type: jwt }
  - { key: API_SECRET_KEY, type: api-key }
  - { key: DB_PASSWORD, type: postgres, user: "\${APP_USER}", port: 5432 }
`,
  );
  const envFile = path.join(dir, '.env.production');
  await fsp.writeFile(envFile, envText('2026-05-30T09:00:00Z', 'cur'), { mode: 0o600 });
  const history = path.join(dir, '.rekey', 'history');
  await fsp.mkdir(history, { recursive: true });
  const backups: string[] = [];
  let before = '2026-01-01T00:00:00Z';
  for (const [i, stamp] of BACKUPS.entries()) {
    const backup = `${envFile}.backup-${stamp}`;
    backups.push(backup);
    await fsp.writeFile(backup, envText(before, stamp), { mode: 0o600 });
    const id = `${stamp}-00000${i}`;
    await fsp.writeFile(
      path.join(history, `${id}.json`),
      JSON.stringify({
        version: 1,
        id,
        kind: 'rotate',
        trigger: 'scheduled',
        createdAt: `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T00:00:00.000Z`,
        outcome: 'rotated',
        backupPath: backup,
        meta: {},
        steps: [],
        targets: [{ key: KEYS[i], type: 'generic', state: 'finished', keys: [KEYS[i]] }],
      }),
    );
    before = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T00:00:00Z`;
  }
  // A rotation in flight: its journal holds the old and the new values.
  const journal = await writePendingJournal(dir, KEYS, (k) => ({
    old: canary(`cur${k}`),
    new: canary(`new${k}`),
  }));
  return { config, envFile, backups, journal };
}

/** Records every file read through node:fs/promises: whole-file reads, and bytes read through handles. */
function spyReads() {
  const whole: string[] = [];
  const bytes = new Map<string, number>();
  const readFile = fsp.readFile;
  const open = fsp.open;
  vi.spyOn(fsp, 'readFile').mockImplementation(((file: Parameters<typeof fsp.readFile>[0], ...rest: []) => {
    whole.push(String(file));
    return readFile(file, ...rest);
  }) as typeof fsp.readFile);
  vi.spyOn(fsp, 'open').mockImplementation((async (file: string, ...rest: []) => {
    const handle = await open(file, ...rest);
    const name = String(file);
    bytes.set(name, bytes.get(name) ?? 0);
    const read = handle.read.bind(handle);
    const readAll = handle.readFile.bind(handle);
    handle.read = (async (...args: Parameters<typeof handle.read>) => {
      const r = await (read as (...a: unknown[]) => Promise<{ bytesRead: number }>)(...args);
      bytes.set(name, (bytes.get(name) ?? 0) + r.bytesRead);
      return r;
    }) as typeof handle.read;
    handle.readFile = (async (...args: Parameters<typeof handle.readFile>) => {
      whole.push(name);
      return (readAll as (...a: unknown[]) => Promise<Buffer>)(...args);
    }) as typeof handle.readFile;
    return handle;
  }) as typeof fsp.open);
  return {
    whole,
    bytes,
    reset() {
      whole.length = 0;
      bytes.clear();
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('rekey serve holds no secret value', { timeout: 60_000 }, () => {
  it('scrapes read no backup whole, the env file not at each scrape, nothing again when unchanged; no value registered', async () => {
    const s = await stack();
    const reads = spyReads();
    const server = await serveMetrics({
      configPath: s.config,
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
    });
    try {
      const scrape = async () => {
        const r = await fetch(server.url);
        expect(r.status).toBe(200);
        return r.text();
      };
      await scrape();
      for (const b of s.backups) {
        expect(reads.whole, `${b} read whole`).not.toContain(b);
        // Each backup's annotation was read (status dates secrets through them), but only that.
        expect(reads.bytes.get(b) ?? 0, `bytes of ${path.basename(b)} read`).toBeGreaterThan(0);
        const size = (await fsp.stat(b)).size;
        expect(reads.bytes.get(b) ?? 0, `bytes of ${path.basename(b)} read`).toBeLessThanOrEqual(512);
        expect(size).toBeGreaterThan(1024);
      }
      // rekey.yaml refers to ${APP_USER}: the env file was read whole once, at start (the config load).
      expect(reads.whole.filter((f) => f === s.envFile).length).toBeLessThanOrEqual(1);

      reads.reset();
      await scrape();
      await scrape();
      const touched = [s.config, s.envFile, s.journal, ...s.backups];
      expect(reads.whole.filter((f) => touched.includes(f))).toEqual([]);
      expect([...reads.bytes.keys()].filter((f) => touched.includes(f))).toEqual([]);

      // Nothing was handed to the redactor: the process never held the values to register.
      const values = KEYS.map((k) => canary(`cur${k}`));
      const registered = values.filter((v) => redactor.redact(v) !== v);
      record({
        kind: 'canary',
        suite: 'serve-secrets',
        scope: 'rekey serve: values in its redactor after start and 3 scrapes',
        values: values.length,
        places: 1,
        occurrences: registered.length,
      });
      expect(registered).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('nothing serve keeps or computes holds a canary, in any encoding', async () => {
    const s = await stack();
    const source = new MetricsSource(s.config);
    const server = await serveMetrics({
      configPath: s.config,
      host: '127.0.0.1',
      port: 0,
      log: silentLogger,
      source,
    });
    try {
      const bodies = [];
      for (let i = 0; i < 3; i++) bodies.push(await (await fetch(server.url)).text());
      const held = source.config.held();
      expect(held?.config.secrets.find((x) => x.key === 'DB_PASSWORD')).toMatchObject({ user: 'bi_app' });
      expect(source.annotations.values()).toHaveLength(1 + BACKUPS.length);
      const inputs = await readPolicyInputs(held as NonNullable<typeof held>, {
        annotations: source.annotations,
      });
      expect(source.pending.values()).toHaveLength(1);
      expect(inputs.events.find((e) => e.source === 'journal' && e.outcome === 'interrupted')?.keys).toEqual([
        ...KEYS,
      ]);
      const texts = strings({
        held,
        dates: source.annotations.values(),
        pending: source.pending.values(),
        inputs,
        bodies,
        source,
      });
      const forms = canaryForms();
      const found = forms.filter((f) => texts.some((t) => t.includes(f)));
      record({
        kind: 'canary',
        suite: 'serve-secrets',
        scope: 'rekey serve: config, annotation cache, inputs, /metrics',
        values: KEYS.length * (2 + BACKUPS.length),
        places: texts.length,
        occurrences: found.length,
      });
      expect(found).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('a reference to a managed secret is refused before any lookup: its value is never asked for', async () => {
    const s = await stack();
    await fsp.writeFile(
      s.config,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: rekey.yaml's own ${NAME} syntax
      'envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\ndeploy: { command: "deploy ${APP_USER} ${JWT_SECRET}" }\n',
    );
    const asked: string[][] = [];
    const err = await loadStackConfig(s.config, async (_file, names) => {
      asked.push([...names]);
      return new Map([['APP_USER', 'bi_app']]);
    }).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_CONFIG_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/deploy\.command: \$\{JWT_SECRET\} would copy a managed secret/);
    expect(asked).toEqual([['APP_USER']]);
  });

  it('when rekey.yaml refers to no env-file key, serve never reads the env file beyond its annotation', async () => {
    const s = await stack();
    await fsp.writeFile(s.config, 'envFile: .env.production\nsecrets:\n  - { key: JWT_SECRET, type: jwt }\n');
    const reads = spyReads();
    const source = new MetricsSource(s.config);
    await source.scrape();
    expect(reads.whole).not.toContain(s.envFile);
    expect(reads.bytes.get(s.envFile)).toBeLessThanOrEqual(512);
  });
  it('a changed file is read again: a new annotation, a changed rekey.yaml', async () => {
    const s = await stack();
    const source = new MetricsSource(s.config);
    const age = async () =>
      Number(
        /rekey_secret_age_seconds\{[^}]*key="DB_PASSWORD"[^}]*\} (\S+)/.exec(
          (await source.scrape(NOW)).body,
        )?.[1],
      );
    expect(await age()).toBe((NOW.getTime() - Date.parse('2026-05-30T09:00:00Z')) / 1000);
    const reads = spyReads();
    await fsp.writeFile(s.envFile, envText('2026-05-31T09:00:00Z', 'cur'));
    expect(await age()).toBe((NOW.getTime() - Date.parse('2026-05-31T09:00:00Z')) / 1000);
    expect(reads.bytes.get(s.envFile)).toBeGreaterThan(0);
    await fsp.appendFile(s.config, 'stateDir: .rekey-moved\n');
    await source.scrape(NOW);
    expect(source.config.held()?.stateDir).toBe(path.join(path.dirname(s.config), '.rekey-moved'));
  });
});

describe('readAnnotationOnly reads the annotation as a full parse does', () => {
  const cases: Record<string, string> = {
    'at the top': '# LastSecretRotation: 2026-05-30T09:00:00Z\nA=1\n',
    'at the end, no newline': `A=1\n${'# x\n'.repeat(300)}# LastSecretRotation: 2026-05-30T09:00:00Z`,
    'CRLF and a BOM': '\ufeff# LastSecretRotation: 2026-05-30T09:00:00+02:00\r\nA=1\r\n',
    'an invalid one first': '# LastSecretRotation: soon\n# LastSecretRotation: 2026-02-28\nA=1\n',
    none: 'A=1\n# LastSecretRotation is not a prefix here\n #  LastSecretRotation: 2026-01-01\n',
    'a line too long to be one': `# LastSecretRotation: 2026-01-01${' '.repeat(400)}x\nA=1\n`,
    'split across blocks': `${'#'.repeat(500)}\n# LastSecretRotation: 2026-03-01T10:11:12Z\n`,
  };
  for (const [name, text] of Object.entries(cases)) {
    it(name, async () => {
      const file = path.join(await tempDir('rekey-annotation-'), '.env');
      await fsp.writeFile(file, text);
      expect(await readAnnotationOnly(file)).toEqual(readAnnotation(parseEnv(text)));
    });
  }
});
