/** The machine a benchmark ran on, for every results file: CPU, cores, RAM, OS, versions, load, date. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPostgresBinDir } from '../demo/stack/pg-bin.js';

const exec = promisify(execFile);

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly ramGiB: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly postgres: string;
  readonly redis: string;
  /** 1-minute load average when the benchmark started (2 cores: above 2 means waiting for CPU). */
  readonly loadAvg1: number;
  readonly date: string;
}

const firstLine = (s: string) => s.split('\n')[0]?.trim() ?? '';

async function version(cmd: string, args: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args);
    return pattern.exec(stdout)?.[1] ?? firstLine(stdout);
  } catch {
    return 'not found';
  }
}

/**
 * @example
 * const m = await describeMachine(); // { cpu: 'AMD EPYC', cores: 2, ... }
 */
export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const release = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const osName = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(release)?.[1] ?? `${os.type()} ${os.release()}`;
  const pgBin = await findPostgresBinDir().catch(() => undefined);
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName,
    kernel: os.release(),
    node: process.version,
    postgres: pgBin ? await version(path.join(pgBin, 'postgres'), ['--version'], /(\d+\.\d+)/) : 'not found',
    redis: await version('redis-server', ['--version'], /v=(\S+)/),
    loadAvg1: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

/** One markdown line naming the machine. */
export function machineLine(m: Machine): string {
  return (
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os} (Linux ${m.kernel}), ` +
    `Node ${m.node.replace(/^v/, '')}, PostgreSQL ${m.postgres}, Redis ${m.redis}; ` +
    `load average ${m.loadAvg1} at start; ${m.date.slice(0, 16).replace('T', ' ')} UTC.`
  );
}
