/**
 * `rekey serve`, wired: check the exposure rules, read the token, start the server whose every scrape
 * reads the state on disk afresh. The process holds no secret value: the config is loaded without the
 * env file's values (`serve-config.ts`), and of the env file and the backups only the annotation line
 * is read, once per file while it is unchanged (`file-cache.ts`).
 */
import type { StoreLookup } from '../config/load.js';
import type { Logger } from '../lib/log.js';
import { countFailures } from '../notify/index.js';
import { FileCache } from './file-cache.js';
import { readPolicyInputs, statusConfigOf } from './inputs.js';
import { buildRegistry } from './metrics.js';
import type { PendingNames } from './pending.js';
import { ServeConfig } from './serve-config.js';
import {
  assertExposureAllowed,
  isLoopback,
  type MetricsServer,
  type Route,
  readTlsPair,
  readToken,
  startMetricsServer,
} from './server.js';
import { computeStatus } from './status.js';

export interface ServeOptions {
  readonly configPath?: string;
  readonly host: string;
  readonly port: number;
  readonly tokenFile?: string;
  /** HTTPS: a PEM certificate (chain) and its private key; both or neither. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** More read-only routes (the dashboard, src/dashboard/), given the source the server scrapes. */
  readonly routes?: (source: MetricsSource) => Readonly<Record<string, Route>>;
  readonly log: Logger;
  readonly now?: () => Date;
  /** What the server scrapes (default: a new MetricsSource of `configPath`); tests inspect it. */
  readonly source?: MetricsSource;
  /** A store stack's `${NAME}` values (serve-config.ts); without it such a config cannot load. */
  readonly storeLookup?: StoreLookup;
}

/**
 * What `rekey serve` keeps between scrapes: the config without values and the annotation dates. A
 * scrape of unchanged files reads neither rekey.yaml, the env file nor a backup again.
 *
 * @example
 * const metrics = new MetricsSource('rekey.yaml');
 * const { body } = await metrics.scrape(new Date());
 */
export class MetricsSource {
  readonly config: ServeConfig;
  readonly annotations = new FileCache<Date | undefined>();
  readonly pending = new FileCache<PendingNames>();

  constructor(configPath?: string, storeLookup?: StoreLookup) {
    this.config = new ServeConfig(configPath, storeLookup);
  }

  /** The Prometheus exposition as of `now` (a fresh registry each call). */
  async scrape(now: Date = new Date()): Promise<{ body: string; contentType: string }> {
    const loaded = await this.config.load();
    const inputs = await readPolicyInputs(loaded, { annotations: this.annotations, pending: this.pending });
    const registry = buildRegistry(
      computeStatus(statusConfigOf(loaded), inputs, now),
      inputs.events,
      await countFailures(loaded.stateDir).catch(() => []),
    );
    return { body: await registry.metrics(), contentType: registry.contentType };
  }
}

/**
 * The Prometheus exposition for a config, as of now (one scrape of a new {@link MetricsSource}).
 *
 * @example
 * const { body } = await scrapeMetrics('rekey.yaml');
 */
export async function scrapeMetrics(
  configPath?: string,
  now: Date = new Date(),
): Promise<{ body: string; contentType: string }> {
  return new MetricsSource(configPath).scrape(now);
}

/**
 * Validates the config and the exposure, then serves `/metrics` and the routes given. Throws
 * ERR_SERVE_UNPROTECTED (a non-loopback host without a token file), ERR_SERVE_TOKEN,
 * ERR_SERVE_TLS, or a config error, before listening.
 *
 * @example
 * const server = await serveMetrics({ host: '127.0.0.1', port: 9464, log });
 * log.info(`metrics on ${server.url}`);
 */
export async function serveMetrics(options: ServeOptions): Promise<MetricsServer> {
  assertExposureAllowed(options.host, options.tokenFile);
  const tls = await readTlsPair(options.tlsCert, options.tlsKey, options.log);
  const token = options.tokenFile === undefined ? undefined : await readToken(options.tokenFile, options.log);
  const source = options.source ?? new MetricsSource(options.configPath, options.storeLookup);
  await source.config.load(); // a broken config fails now (exit 2), not at the first scrape
  const now = options.now ?? (() => new Date());
  if (!isLoopback(options.host) && tls === undefined)
    options.log.warn('no --tls-cert/--tls-key: the bearer token travels in clear text over the network');
  return startMetricsServer({
    host: options.host,
    port: options.port,
    ...(token === undefined ? {} : { token }),
    ...(tls === undefined ? {} : { tls }),
    ...(options.routes ? { routes: options.routes(source) } : {}),
    collect: () => source.scrape(now()),
    log: options.log,
  });
}
