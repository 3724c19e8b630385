/**
 * The cluster primary's worker management: start a generation of workers, replace them one by one on
 * reload (a new worker must be listening AND pass its own health check before an old one is drained),
 * replace a worker that dies, stop them all. It never reads the env file: each new worker does.
 */
import cluster, { type Worker } from 'node:cluster';
import { isWorkerMessage, WORKER_ENV } from './ipc.js';
import { type AppLog, describeError } from './log.js';
import type { ReloadStatus, RunnerStatus, WorkerState } from './status.js';

export interface SupervisorOptions {
  /** How many workers serve at once. */
  workers: number;
  envFile: string;
  /** How long a new worker may take to listen and pass its health check. */
  readyTimeoutMs: number;
  /** A worker's deadline for in-flight requests; it is killed 5 s after that. */
  drainTimeoutMs: number;
  log: AppLog;
  /** Called whenever the status changed. */
  onChange: () => void;
}

interface Slot {
  worker: Worker;
  generation: number;
  state: WorkerState;
  /** True once we asked it to stop: its exit is expected. */
  retiring: boolean;
  exited: Promise<void>;
}

const KILL_GRACE_MS = 5_000;
const iso = () => new Date().toISOString();

/** Manages the workers of a cluster primary (call from the primary only). */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #slots = new Map<number, Slot>();
  readonly #startedAt = iso();
  #generation = 0;
  #lastReload: ReloadStatus | null = null;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #stopping = false;
  #respawnTimer: NodeJS.Timeout | undefined;
  #respawnDelayMs = 1000;

  /**
   * @example
   * const supervisor = new Supervisor({ workers: 2, envFile, readyTimeoutMs: 30_000, drainTimeoutMs: 10_000, log, onChange });
   * if (!(await supervisor.start())) process.exitCode = 1;
   */
  constructor(options: SupervisorOptions) {
    this.#opts = options;
  }

  /** The state for the status file. */
  snapshot(): RunnerStatus {
    return {
      generation: this.#generation,
      pid: process.pid,
      startedAt: this.#startedAt,
      updatedAt: iso(),
      workers: [...this.#slots.values()].map((s) => ({
        id: s.worker.id,
        pid: s.worker.process.pid,
        generation: s.generation,
        state: s.state,
      })),
      lastReload: this.#lastReload,
      stopping: this.#stopping,
    };
  }

  /**
   * Starts generation 1 (all workers at once); false when they did not all become ready.
   *
   * @example
   * const ok = await supervisor.start();
   */
  async start(): Promise<boolean> {
    await this.reload();
    return this.#lastReload?.ok === true;
  }

  /**
   * Replaces every worker, one by one, with one that reads the env file afresh. Requests made while a
   * reload runs are coalesced into one more reload after it. Resolves when done (see the status).
   *
   * @example
   * process.on('SIGHUP', () => void supervisor.reload());
   */
  reload(): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false;
        await this.#roll();
      } while (this.#reloadAgain && !this.#stopping);
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  /**
   * Drains and stops every worker (in parallel); resolves when all have exited.
   *
   * @example
   * process.on('SIGTERM', () => void supervisor.stop().then(() => process.exit(0)));
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#respawnTimer);
    this.#opts.onChange();
    await Promise.all([...this.#slots.values()].map((slot) => this.#retire(slot)));
  }

  /** Workers neither stopping nor gone, oldest first. */
  #live(): Slot[] {
    return [...this.#slots.values()].filter((s) => !s.retiring).sort((a, b) => a.worker.id - b.worker.id);
  }

  async #roll(): Promise<void> {
    const target = this.#generation + 1;
    const startedAt = iso();
    const olds = this.#live();
    const { log } = this.#opts;
    log.info(
      olds.length === 0
        ? `starting generation ${target} (${this.#opts.workers} workers)`
        : `reload: replacing ${olds.length} workers of generation ${this.#generation} one by one`,
    );
    try {
      if (olds.length === 0) {
        const fresh = Array.from({ length: this.#opts.workers }, () => this.#fork(target));
        const results = await Promise.allSettled(fresh.map((slot) => this.#ready(slot)));
        const failed = results.find((r) => r.status === 'rejected');
        if (failed !== undefined) {
          await Promise.all(fresh.map((slot) => this.#retire(slot)));
          throw failed.reason;
        }
      } else {
        for (let i = 0; i < Math.max(olds.length, this.#opts.workers); i++) {
          if (this.#stopping) throw new Error('the runner is stopping');
          if (i < this.#opts.workers) {
            const slot = this.#fork(target);
            await this.#ready(slot).catch(async (err: unknown) => {
              await this.#retire(slot);
              throw err;
            });
          }
          const old = olds[i];
          if (old !== undefined) await this.#retire(old);
        }
      }
      this.#generation = target;
      this.#lastReload = { ok: true, generation: target, startedAt, at: iso(), error: null };
      log.info(`generation ${target} serving`);
    } catch (err) {
      const error = describeError(err);
      this.#lastReload = { ok: false, generation: target, startedAt, at: iso(), error };
      log.error(
        `generation ${target} failed: ${error}; ${olds.length === 0 ? 'nothing serves' : 'remaining workers keep serving'}`,
      );
    } finally {
      this.#opts.onChange();
      this.#ensureCapacity();
    }
  }

  #fork(generation: number): Slot {
    const worker = cluster.fork({
      [WORKER_ENV.envFile]: this.#opts.envFile,
      [WORKER_ENV.generation]: String(generation),
      [WORKER_ENV.drainTimeoutMs]: String(this.#opts.drainTimeoutMs),
    });
    const slot: Slot = {
      worker,
      generation,
      state: 'starting',
      retiring: false,
      exited: new Promise((resolve) => worker.once('exit', () => resolve())),
    };
    this.#slots.set(worker.id, slot);
    worker.once('exit', (code: number | null, signal: string | null) => this.#onExit(slot, code, signal));
    this.#opts.onChange();
    return slot;
  }

  /** Resolves once the worker is listening and has said 'ready'; rejects on fatal, exit or timeout. */
  #ready(slot: Slot): Promise<void> {
    const { worker } = slot;
    const pid = worker.process.pid;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      let ready = false;
      const finish = (err?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('listening', onListening).off('exit', onExit);
        if (err !== undefined) return reject(err);
        slot.state = 'ready';
        this.#opts.onChange();
        resolve();
      };
      const check = () => {
        if (listening && ready) finish();
      };
      const onMessage = (message: unknown) => {
        if (!isWorkerMessage(message)) return;
        if (message.type === 'rekey-demo-app:fatal') finish(new Error(`worker ${pid}: ${message.error}`));
        else {
          ready = true;
          check();
        }
      };
      const onListening = () => {
        listening = true;
        check();
      };
      const onExit = (code: number | null, signal: string | null) =>
        finish(new Error(`worker ${pid} exited (${signal ?? `code ${code}`}) before it was ready`));
      const seconds = this.#opts.readyTimeoutMs / 1000;
      const timer = setTimeout(
        () => finish(new Error(`worker ${pid} did not pass its health check within ${seconds} s`)),
        this.#opts.readyTimeoutMs,
      );
      worker.on('message', onMessage).on('listening', onListening).on('exit', onExit);
    });
  }

  /** SIGTERM (the worker drains), SIGKILL after its drain deadline + 5 s; resolves once it exited. */
  async #retire(slot: Slot): Promise<void> {
    if (!slot.retiring) {
      slot.retiring = true;
      slot.state = 'stopping';
      this.#opts.onChange();
      if (!slot.worker.isDead()) slot.worker.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.#opts.log.error(`worker ${slot.worker.process.pid} still running after its deadline: SIGKILL`);
        slot.worker.process.kill('SIGKILL');
      }, this.#opts.drainTimeoutMs + KILL_GRACE_MS);
      void slot.exited.then(() => clearTimeout(timer));
    }
    await slot.exited;
  }

  #onExit(slot: Slot, code: number | null, signal: string | null): void {
    this.#slots.delete(slot.worker.id);
    const how = signal ?? `code ${code}`;
    // A worker that exits while starting is reported by #ready's caller.
    if (slot.retiring || slot.state === 'starting') {
      this.#opts.log.info(`worker ${slot.worker.process.pid} exited (${how})`);
    } else {
      this.#opts.log.error(`worker ${slot.worker.process.pid} died (${how})`);
      this.#ensureCapacity();
    }
    this.#opts.onChange();
  }

  /** Forks replacements for dead workers of a serving generation (with backoff), unless busy. */
  #ensureCapacity(): void {
    if (this.#stopping || this.#generation === 0 || this.#respawnTimer !== undefined) return;
    if (this.#live().length >= this.#opts.workers) return;
    this.#respawnTimer = setTimeout(async () => {
      this.#respawnTimer = undefined;
      if (this.#stopping || this.#reloading !== undefined) return; // a reload restores the count
      const missing = this.#opts.workers - this.#live().length;
      const fresh = Array.from({ length: Math.max(0, missing) }, () => this.#fork(this.#generation));
      const results = await Promise.allSettled(fresh.map((slot) => this.#ready(slot)));
      for (const [i, r] of results.entries()) {
        if (r.status === 'rejected') {
          this.#opts.log.error(`replacement worker failed: ${describeError(r.reason)}`);
          const slot = fresh[i];
          if (slot !== undefined) await this.#retire(slot);
        }
      }
      const allOk = results.every((r) => r.status === 'fulfilled');
      this.#respawnDelayMs = allOk ? 1000 : Math.min(this.#respawnDelayMs * 2, 30_000);
      this.#ensureCapacity();
    }, this.#respawnDelayMs);
  }
}
