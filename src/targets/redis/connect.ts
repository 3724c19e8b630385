/**
 * The redis target's connection: one short-lived node-redis connection per operation, built from the
 * secret's endpoint in one place below the adapters (src/lib/redis.ts), which session invalidation
 * uses too.
 */
export * from '../../lib/redis.js';
