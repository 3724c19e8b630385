/**
 * `--attach FILE`: what the audit record says about an attached file (scan results for the change
 * ticket): its name, size and SHA-256, and for a bandit, safety, npm audit or Trivy JSON report the
 * findings by severity. The file itself is neither copied nor changed.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../../lib/errors.js';
import { countFindings, type ReportFormat } from './reports.js';

export type { ReportFindings, ReportFormat } from './reports.js';
export { countFindings } from './reports.js';

/** Reports larger than this are hashed but not parsed. */
const MAX_PARSE_BYTES = 64 * 1024 * 1024;

export interface AttachmentSummary {
  readonly name: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly format?: ReportFormat;
  readonly findings?: Readonly<Record<string, number>>;
  readonly total?: number;
  /** Index signature so a summary is an audit record attachment as is. */
  readonly [field: string]: unknown;
}

/**
 * Summarises one attachment; throws ERR_ATTACHMENT when it cannot be read.
 *
 * @example
 * await summarizeAttachment('reports/bandit.json');
 * // { name: 'bandit.json', size: 1520, sha256: '…', format: 'bandit', findings: { high: 1, low: 2 }, total: 3 }
 */
export async function summarizeAttachment(file: string): Promise<AttachmentSummary> {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    const st = await fs.stat(abs);
    if (!st.isFile()) throw new RekeyError('ERR_ATTACHMENT', `--attach ${file}: not a regular file`);
    bytes = await fs.readFile(abs);
  } catch (e) {
    if (e instanceof RekeyError) throw e;
    throw new RekeyError(
      'ERR_ATTACHMENT',
      `--attach ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const base = {
    name: path.basename(abs),
    path: abs,
    size: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  if (bytes.length > MAX_PARSE_BYTES) return base;
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return base;
  }
  const counted = countFindings(doc);
  return counted
    ? { ...base, format: counted.format, findings: counted.findings, total: counted.total }
    : base;
}

/**
 * Summarises every attachment, in order.
 *
 * @example
 * await summarizeAttachments(opts.attach ?? []);
 */
export async function summarizeAttachments(files: readonly string[]): Promise<AttachmentSummary[]> {
  const out: AttachmentSummary[] = [];
  for (const f of files) out.push(await summarizeAttachment(f));
  return out;
}
