/**
 * A real browser for tests: playwright-core driving Debian's Chromium (`apt-get install
 * chromium`; .ci/run installs it when missing). No browser download, no network.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** test/artifacts/ (git-ignored): screenshots and anything else a person may want to look at. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    // Fail loudly rather than skip: the browser test is part of the suite.
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; install it with "apt-get install -y chromium" (.ci/run does this)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // --no-sandbox: CI runs as root. /dev/shm is small in containers; the GPU is absent.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 120_000,
  });
}

/** Numbered full-page screenshots, `<dir>/<prefix>-01-<name>.png`, in the order taken. */
export function screenshots(page: Page, prefix: string, dir = ARTIFACTS_DIR): (name: string) => Promise<string> {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (name: string) => {
    n += 1;
    const path = join(dir, `${prefix}-${String(n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path, fullPage: true, animations: 'disabled' });
    return path;
  };
}

/** Errors the page reported (uncaught exceptions and console.error), for the test to assert on. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()} (at ${msg.location().url})`);
  });
  return errors;
}

interface AXValue {
  value?: unknown;
}
interface AXNode {
  nodeId: string;
  ignored?: boolean;
  role?: AXValue;
  name?: AXValue;
  backendDOMNodeId?: number;
}

/** Roles a person operates; each needs a name a screen reader can announce. */
const OPERABLE_ROLES = new Set([
  'button', 'link', 'textbox', 'searchbox', 'spinbutton', 'combobox', 'listbox', 'checkbox',
  'radio', 'switch', 'slider', 'menuitem', 'tab',
  // Chromium's roles for date/time inputs.
  'DateTime', 'Date', 'InputTime',
]);

/**
 * Every operable control in Chromium's own accessibility tree (what assistive technology
 * gets, after aria-*, labels, and hidden elements are applied) with its role and name.
 */
export async function operableControls(page: Page): Promise<{ role: string; name: string }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AXNode[] };
    return nodes
      .filter((n) => !n.ignored && OPERABLE_ROLES.has(String(n.role?.value ?? '')))
      .map((n) => ({ role: String(n.role?.value), name: String(n.name?.value ?? '').trim() }));
  } finally {
    await cdp.detach();
  }
}
