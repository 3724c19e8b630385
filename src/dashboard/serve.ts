/**
 * `rekey serve` with the dashboard: `/metrics` (src/policy/serve.ts) and, beside it, `/` (the page),
 * `/dashboard.css`, `/api/status` and `/api/rotations`, each built afresh from the state on disk at
 * each request, behind the same authentication. Read-only: the server answers GET and HEAD only.
 */

import { MetricsSource, type ServeOptions, serveMetrics } from '../policy/serve.js';
import type { MetricsServer, Route } from '../policy/server.js';
import { buildDashboard } from './model.js';
import { renderPage } from './page.js';
import { DASHBOARD_CSS } from './style.js';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The dashboard's routes over a metrics source (its config and caches are shared with `/metrics`).
 *
 * @example
 * const routes = dashboardRoutes(new MetricsSource('rekey.yaml'));
 * (await routes['/api/status']!()).body; // '{"version":1,…'
 */
export function dashboardRoutes(
  source: MetricsSource,
  options: { now?: () => Date; configPath?: string } = {},
): Record<string, Route> {
  const build = async () =>
    buildDashboard(await source.config.load(), {
      now: options.now?.() ?? new Date(),
      ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
      caches: { annotations: source.annotations, pending: source.pending },
    });
  return {
    '/': async () => ({ contentType: 'text/html; charset=utf-8', body: renderPage(await build()) }),
    '/index.html': async () => ({ contentType: 'text/html; charset=utf-8', body: renderPage(await build()) }),
    '/dashboard.css': async () => ({ contentType: 'text/css; charset=utf-8', body: DASHBOARD_CSS }),
    '/api/status': async () => ({
      contentType: JSON_TYPE,
      body: `${JSON.stringify((await build()).status, null, 2)}\n`,
    }),
    '/api/rotations': async () => ({
      contentType: JSON_TYPE,
      body: `${JSON.stringify((await build()).rotations, null, 2)}\n`,
    }),
  };
}

/**
 * Serves `/metrics` and the dashboard (same exposure rules, token and TLS as `serveMetrics`).
 *
 * @example
 * const server = await serveDashboard({ host: '127.0.0.1', port: 9464, log });
 * log.info(`dashboard on ${server.root}`);
 */
export async function serveDashboard(options: Omit<ServeOptions, 'routes'>): Promise<MetricsServer> {
  const source = options.source ?? new MetricsSource(options.configPath, options.storeLookup);
  return serveMetrics({
    ...options,
    source,
    routes: (s) =>
      dashboardRoutes(s, {
        ...(options.now ? { now: options.now } : {}),
        ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
      }),
  });
}
