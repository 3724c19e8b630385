/** The evidence report (`rekey report`): built from the audit log (./build.ts), rendered (./render.ts). */
export {
  buildReport,
  type EvidenceReport,
  type ReportBreakGlass,
  type ReportPeriod,
  type ReportRotation,
  type ReportSecret,
} from './build.js';
export { escapeHtml, renderHtml, renderMarkdown } from './render.js';
