/**
 * `rekey serve`, wired: check the exposure rules, read the token, start the server whose every scrape
 * loads the config and reads the state on disk afresh.
 */
import { loadConfig } from '../config/load.js';
import type { Logger } from '../core/log.js';
import { readPolicyInputs, statusConfigOf } from './inputs.js';
import { buildRegistry } from './metrics.js';
import { assertExposureAllowed, type MetricsServer, readToken, startMetricsServer } from './server.js';
import { computeStatus } from './status.js';

export interface ServeOptions {
  readonly configPath?: string;
  readonly host: string;
  readonly port: number;
  readonly tokenFile?: string;
  readonly log: Logger;
  readonly now?: () => Date;
}

/**
 * The Prometheus exposition for a config, as of now (a fresh registry each call).
 *
 * @example
 * const { body } = await scrapeMetrics('rekey.yaml');
 */
export async function scrapeMetrics(
  configPath?: string,
  now: Date = new Date(),
): Promise<{ body: string; contentType: string }> {
  const loaded = await loadConfig(configPath);
  const inputs = await readPolicyInputs(loaded);
  const registry = buildRegistry(computeStatus(statusConfigOf(loaded), inputs, now), inputs.events);
  return { body: await registry.metrics(), contentType: registry.contentType };
}

/**
 * Validates the config and the exposure, then serves `/metrics`. Throws ERR_SERVE_UNPROTECTED (a
 * non-loopback host without a token file), ERR_SERVE_TOKEN, or a config error, before listening.
 *
 * @example
 * const server = await serveMetrics({ host: '127.0.0.1', port: 9464, log });
 * log.info(`metrics on ${server.url}`);
 */
export async function serveMetrics(options: ServeOptions): Promise<MetricsServer> {
  assertExposureAllowed(options.host, options.tokenFile);
  const token = options.tokenFile === undefined ? undefined : await readToken(options.tokenFile, options.log);
  await loadConfig(options.configPath); // a broken config fails now (exit 2), not at the first scrape
  const now = options.now ?? (() => new Date());
  return startMetricsServer({
    host: options.host,
    port: options.port,
    ...(token === undefined ? {} : { token }),
    collect: () => scrapeMetrics(options.configPath, now()),
    log: options.log,
  });
}
