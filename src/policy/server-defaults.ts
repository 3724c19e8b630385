/** Where `rekey serve` listens by default (kept apart so the CLI starts without prom-client). */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 9464;
