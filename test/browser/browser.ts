/**
 * The browser tests' Chromium: Debian's `chromium` package driven by playwright-core, never a
 * browser download. Found by path: REKEY_CHROMIUM, else `chromium` or `chromium-browser` on PATH
 * (scripts/ensure-services.sh installs the package in CI).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type LaunchOptions } from 'playwright-core';
import { afterAll } from 'vitest';

const NAMES = ['chromium', 'chromium-browser'];

/** The Chromium executable to drive, or undefined when none is installed. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (env.REKEY_CHROMIUM) return executable(env.REKEY_CHROMIUM) ? env.REKEY_CHROMIUM : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of NAMES) {
      const file = path.join(dir, name);
      if (executable(file)) return file;
    }
  }
  return undefined;
}

/** Launch options for a headless Chromium at `executablePath`. */
export function launchOptions(executablePath: string): LaunchOptions {
  return {
    executablePath,
    headless: true,
    // Chromium refuses to start as root with its sandbox on (the setuid/user-namespace sandbox needs
    // an unprivileged user); CI containers run as root. Only then is the sandbox turned off: the
    // pages loaded are the tests' own, from 127.0.0.1.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    env: { ...process.env, LANG: 'en_US.UTF-8' },
  };
}

/** Starts Chromium; throws with what to install when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  const exe = findChromium();
  if (!exe) {
    throw new Error(
      "no Chromium found (REKEY_CHROMIUM, or chromium / chromium-browser on PATH). Install Debian's package: sudo apt-get install chromium (scripts/ensure-services.sh does it as root).",
    );
  }
  return chromium.launch(launchOptions(exe));
}

/**
 * One browser for a test file, closed after it.
 *
 * @example
 * const browser = useBrowser();
 * it('loads', async () => { const page = await (await browser()).newPage(); ... });
 */
export function useBrowser(): () => Promise<Browser> {
  let started: Promise<Browser> | undefined;
  afterAll(async () => {
    const b = await started?.catch(() => undefined);
    await b?.close();
  });
  return () => {
    started ??= launchBrowser();
    return started;
  };
}
