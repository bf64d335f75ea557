/**
 * A real browser for tests: playwright-core driving Debian's Chromium (`apt-get install
 * chromium`; the e2e project's globalSetup, chromium-setup.ts, installs it when missing and it
 * can). No browser download, no network.
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
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; install it with "apt-get install -y chromium"`);
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

export interface LowContrast {
  text: string;
  ratio: number;
  min: number;
}

/**
 * Visible text whose colour contrast with its (composited) background is below WCAG AA:
 * 4.5:1, or 3:1 for large text. Disabled controls are exempt, as WCAG allows. Written as a
 * string so it runs in the page without DOM types in this project's tsconfig.
 */
export async function lowContrastText(page: Page): Promise<LowContrast[]> {
  return (await page.evaluate(`(() => {
    const parse = (c) => {
      const m = /rgba?\\(([^)]+)\\)/.exec(c);
      if (!m) return null;
      const p = m[1].split(/[\\s,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const blend = (top, bottom) => ({
      r: top.r * top.a + bottom.r * (1 - top.a),
      g: top.g * top.a + bottom.g * (1 - top.a),
      b: top.b * top.a + bottom.b * (1 - top.a),
      a: 1,
    });
    const lum = ({ r, g, b }) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const backgroundOf = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
      }
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (const layer of layers.reverse()) bg = blend(layer, bg);
      return bg;
    };
    const out = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const el = node.parentElement;
      if (!node.textContent.trim() || !el || seen.has(el)) continue;
      seen.add(el);
      if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      if (el.closest('[disabled], [aria-disabled="true"], .visually-hidden, noscript')) continue;
      const cs = getComputedStyle(el);
      const bg = backgroundOf(el);
      const fg = blend(parse(cs.color), bg);
      const l1 = lum(fg), l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (Number(cs.fontWeight) >= 700 && size >= 18.66);
      const min = large ? 3 : 4.5;
      if (ratio < min) out.push({ text: node.textContent.trim().slice(0, 60), ratio: Math.round(ratio * 100) / 100, min });
    }
    return out;
  })()`)) as LowContrast[];
}
