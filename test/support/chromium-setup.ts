/**
 * globalSetup of the e2e project: the browser test drives Debian's Chromium. On a fresh machine
 * it is not there yet, so get it (as root, with apt-get) or stop with one line saying how.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH } from './browser.js';

/** A failure that is its one line, without a stack that points here. */
function oneLine(message: string): Error {
  const err = new Error(message);
  err.stack = message;
  return err;
}

export const INSTALL_HINT = `Chromium is missing at ${CHROMIUM_PATH}; the browser test (test/e2e) needs it: install it with "sudo apt-get install -y chromium" (Debian/Ubuntu) or set CHROMIUM_PATH to a Chromium binary, then run npm test again.`;

export interface ChromiumEnv {
  exists(path: string): boolean;
  isRoot: boolean;
  run(command: string, args: string[]): { status: number | null; output: string };
  log(line: string): void;
}

const realEnv: ChromiumEnv = {
  exists: existsSync,
  isRoot: process.getuid?.() === 0,
  run(command, args) {
    const r = spawnSync(command, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return { status: r.error ? null : r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}` };
  },
  log: (line) => process.stderr.write(`${line}\n`),
};

/** Makes sure Chromium is at `path`; throws one line when it is not and cannot be installed here. */
export function ensureChromium(path: string = CHROMIUM_PATH, env: ChromiumEnv = realEnv): void {
  if (env.exists(path)) return;
  // Only Debian's package puts it at the default path; a custom CHROMIUM_PATH is the user's to fill.
  const canInstall = path === '/usr/bin/chromium' && env.isRoot && env.exists('/usr/bin/apt-get');
  if (!canInstall) throw oneLine(INSTALL_HINT);
  env.log(`Chromium is missing at ${path}: installing Debian's chromium with apt-get for the browser test (once; a few minutes)...`);
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    const r = env.run('apt-get', args);
    if (r.status !== 0) {
      const tail = r.output.trim().split('\n').slice(-3).join(' | ');
      throw oneLine(`apt-get ${args.join(' ')} failed (${r.status ?? 'not run'}${tail ? `: ${tail}` : ''}); ${INSTALL_HINT}`);
    }
  }
  if (!env.exists(path)) throw oneLine(`apt-get installed chromium but ${path} is still missing; ${INSTALL_HINT}`);
  env.log(`Chromium installed at ${path}.`);
}

export default function setup(): void {
  try {
    ensureChromium();
  } catch (err) {
    // Stop the run with just that line: vitest would wrap a thrown error in a page of its own
    // output (every project's globs, "no test files found") that buries the instruction.
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
