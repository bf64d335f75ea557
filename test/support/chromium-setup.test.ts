import { describe, expect, it } from 'vitest';
import { ensureChromium, INSTALL_HINT, type ChromiumEnv } from './chromium-setup.js';

const CHROMIUM = '/usr/bin/chromium';

/** A machine: which files exist, whether we are root, what apt-get does. */
function machine(opts: { files: string[]; isRoot: boolean; apt?: (args: string[]) => { status: number | null; output: string; installs?: boolean } }) {
  const files = new Set(opts.files);
  const runs: string[] = [];
  const logs: string[] = [];
  const env: ChromiumEnv = {
    exists: (p) => files.has(p),
    isRoot: opts.isRoot,
    run(command, args) {
      runs.push(`${command} ${args.join(' ')}`);
      const r = opts.apt?.(args) ?? { status: 0, output: '', installs: args[0] === 'install' };
      if (r.installs) files.add(CHROMIUM);
      return r;
    },
    log: (l) => logs.push(l),
  };
  return { env, runs, logs };
}

describe('the e2e project gets Chromium', () => {
  it('does nothing when Chromium is there', () => {
    const m = machine({ files: [CHROMIUM], isRoot: true });
    ensureChromium(CHROMIUM, m.env);
    expect(m.runs).toEqual([]);
  });

  it('as root with apt-get: apt-get update, then apt-get install chromium, and says so', () => {
    const m = machine({ files: ['/usr/bin/apt-get'], isRoot: true });
    ensureChromium(CHROMIUM, m.env);
    expect(m.runs).toEqual(['apt-get update -qq', 'apt-get install -y -qq chromium']);
    expect(m.logs.join('\n')).toMatch(/installing Debian's chromium/);
  });

  it('not root: stops with one line saying how to install it, and installs nothing', () => {
    const m = machine({ files: ['/usr/bin/apt-get'], isRoot: false });
    let err: Error | undefined;
    try {
      ensureChromium(CHROMIUM, m.env);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe(INSTALL_HINT);
    expect(err?.message).toMatch(/apt-get install -y chromium/);
    expect(err?.stack).not.toContain('\n');
    expect(m.runs).toEqual([]);
  });

  it('no apt-get, or a custom CHROMIUM_PATH: the same one line', () => {
    expect(() => ensureChromium(CHROMIUM, machine({ files: [], isRoot: true }).env)).toThrow(INSTALL_HINT);
    expect(() => ensureChromium('/opt/chrome/chrome', machine({ files: ['/usr/bin/apt-get'], isRoot: true }).env)).toThrow(INSTALL_HINT);
  });

  it('apt-get failing: one line with the failing step and the hint', () => {
    const m = machine({ files: ['/usr/bin/apt-get'], isRoot: true, apt: (args) => (args[0] === 'update' ? { status: 100, output: 'E: Could not resolve deb.debian.org\n' } : { status: 0, output: '' }) });
    expect(() => ensureChromium(CHROMIUM, m.env)).toThrow(/^apt-get update -qq failed \(100: E: Could not resolve deb\.debian\.org\); Chromium is missing/);
    expect(m.runs).toEqual(['apt-get update -qq']);
  });
});
