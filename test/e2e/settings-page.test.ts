/**
 * The settings page at `/`, driven the way a person uses it: real Chromium (playwright-core,
 * Debian's /usr/bin/chromium), the local runtime in-process (dynalite, fauxqs, the Calendly
 * sandbox over real HTTP on 127.0.0.1). Nothing is mocked. Each step leaves a screenshot in
 * test/artifacts/.
 *
 * Robust on a loaded 2-core machine: every wait is for something visible on the page (or a
 * state at the sandbox), with generous timeouts; no sleeps.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import type { Sandbox } from '../../sandbox/types.js';
import { collectPageErrors, launchBrowser, lowContrastText, operableControls, screenshots } from '../support/browser.js';

const STEP_TIMEOUT_MS = 60_000;

let runtime: LocalRuntime;
let sandbox: Sandbox;
let browser: Browser;
let page: Page;
let pageErrors: string[];
let shot: (name: string) => Promise<string>;

/**
 * Waits until the element shows `text` (the page polls every few seconds). A string matches
 * any substring, ignoring case (so 'Connected' would match 'Disconnected': use a RegExp).
 */
async function waitForText(selector: string, text: string | RegExp): Promise<void> {
  await page.locator(selector, { hasText: text }).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
}

/** Accessibility sanity: every control has a name a screen reader can say; text is readable. */
async function expectAccessible(where: string): Promise<void> {
  const controls = await operableControls(page);
  expect(controls.length, `operable controls ${where}`).toBeGreaterThan(3);
  const unnamed = controls.filter((c) => c.name === '');
  expect(unnamed, `controls without an accessible name ${where}`).toEqual([]);
  expect(await lowContrastText(page), `text below WCAG AA contrast ${where}`).toEqual([]);
}

describe('settings page in a real browser (Chromium via playwright-core)', () => {
  beforeAll(async () => {
    [runtime, browser] = await Promise.all([
      startLocalRuntime({
        port: 0,
        dataDir: ':memory:',
        healthIntervalSeconds: 0, // the test runs the health check itself, from the page
        env: { LOG_LEVEL: 'WARN' },
      }),
      launchBrowser(),
    ]);
    if (!runtime.sandbox) throw new Error('the local runtime started without its Calendly sandbox');
    sandbox = runtime.sandbox as unknown as Sandbox;
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
    pageErrors = collectPageErrors(page);
    shot = screenshots(page, 'settings-page');
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  }, 120_000);

  it('connects through the consent page, lists a booked meeting, heals a disabled hook, reconnects (refresh, then re-consent), no-show/reschedule/cancel, disconnects', async () => {
    try {
      await walkThrough();
    } catch (err) {
      // What the page showed when it went wrong, for whoever reads the CI artifacts.
      await shot('FAILED').catch(() => undefined);
      throw err;
    }
  }, 300_000);

  async function walkThrough(): Promise<void> {
    const demoEmail = sandbox.defaultUser.email;

    // 1. Signed in as the demo user, not connected yet, sandbox controls shown.
    await page.goto(`${runtime.baseUrl}/`);
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' });
    await waitForText('#who', 'Signed in as demo-user');
    await waitForText('#status-badge', /^Not connected$/);
    await page.getByRole('heading', { name: 'Sandbox controls' }).waitFor();
    for (const role of ['banner', 'main', 'contentinfo'] as const) {
      expect(await page.getByRole(role).count(), `landmark ${role}`).toBe(1);
    }
    await expectAccessible('before connecting');
    await shot('not-connected');

    // The sandbox approves at once by default; a person wants to see its consent page.
    const consent = page.getByRole('checkbox', { name: 'Show Calendly’s consent page when connecting' });
    await consent.check();
    await waitForText('#flash', 'Connect now shows Calendly’s consent page');
    expect(await consent.isChecked()).toBe(true);

    // 2. Connect (from the keyboard) -> the sandbox's consent page -> Allow -> back, connected.
    // Tab to it like a keyboard user (this also makes Chromium apply :focus-visible).
    let tabs = 0;
    while ((await page.evaluate('document.activeElement && document.activeElement.id')) !== 'btn-connect') {
      expect(++tabs, 'Connect is reachable with Tab').toBeLessThan(40);
      await page.keyboard.press('Tab');
    }
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline, 'a keyboard-focused button shows a focus ring').not.toBe('none');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.href.startsWith(sandbox.baseUrl) && url.pathname === '/oauth/authorize');
    await page.getByRole('heading', { name: /wants to access your Calendly account/ }).waitFor();
    await shot('consent-page');
    // The scopes the service asks for, each a ticked checkbox the person could untick.
    for (const scope of ['users:read', 'scheduled_events:read', 'webhooks:read', 'webhooks:write']) {
      const box = page.locator(`input[type=checkbox][name=grant][value="${scope}"]`);
      expect(await box.count(), scope).toBe(1);
      expect(await box.isChecked(), scope).toBe(true);
    }
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(runtime.baseUrl));
    await waitForText('#flash', 'Calendly is connected');
    await waitForText('#status-badge', /^Connected$/);
    await waitForText('#f-email', demoEmail);
    await waitForText('#f-webhook', /^Active/);
    expect(new URL(page.url()).search, 'the ?calendly= result is taken out of the address bar').toBe('');
    await shot('connected');

    // 3. Book a meeting at "Calendly"; the webhook delivery lands it in the table.
    await page.getByLabel('Title').fill('E2E demo call');
    await page.getByLabel('Invitee name').fill('Grace Hopper');
    await page.getByLabel('Invitee email').fill('grace@example.test');
    await page.getByRole('button', { name: 'Book meeting' }).click();
    await waitForText('#flash', 'Booked “E2E demo call”');
    const row = page.locator('#meetings-body tr', { hasText: 'E2E demo call' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Grace Hopper');
    expect(await row.textContent()).toContain('Active');
    await expectAccessible('with a meeting listed');
    await shot('meeting-booked');

    // 4. Break the hook at "Calendly", run a health check from the page, watch it heal.
    const userUri = sandbox.defaultUser.uri;
    const before = sandbox.webhooks(userUri).filter((w) => w.state === 'active');
    expect(before, 'one active hook after connecting').toHaveLength(1);
    await waitForText('#sandbox-hook', 'our webhook subscription is active');
    await page.getByRole('button', { name: 'Disable the webhook' }).click();
    await waitForText('#flash', 'Calendly disabled the webhook');
    await waitForText('#sandbox-hook', 'our webhook subscription is disabled');
    expect(sandbox.webhooks(userUri).filter((w) => w.state === 'active'), 'no active hook at the sandbox').toHaveLength(0);
    await shot('hook-disabled');
    await page.getByRole('button', { name: 'Run health check now' }).click();
    await waitForText('#flash', 'Health check finished');
    await waitForText('#f-webhook', /^Active/);
    await waitForText('#sandbox-hook', 'our webhook subscription is active');
    const after = sandbox.webhooks(userUri).filter((w) => w.state === 'active');
    expect(after, 'exactly one active hook again').toHaveLength(1);
    expect(after[0]?.uri, 'a new subscription replaced the disabled one').not.toBe(before[0]?.uri);
    expect(after[0]?.callbackUrl.startsWith(runtime.publicBaseUrl), 'the healed hook points at us').toBe(true);
    await shot('healed');

    // 5. The seed's scenario: the access token expires at Calendly, the person clicks Reconnect.
    await page.getByRole('button', { name: 'Expire the access token' }).click();
    await waitForText('#flash', 'expired the access token');
    const tokenCallsBefore = sandbox.calls()['POST /oauth/token'] ?? 0;
    await page.getByRole('button', { name: 'Reconnect Calendly' }).click();
    await waitForText('#flash', 'Reconnected');
    expect(sandbox.calls()['POST /oauth/token'] ?? 0, 'the expired token was refreshed').toBeGreaterThan(tokenCallsBefore);
    await waitForText('#status-badge', /^Connected$/);
    await waitForText('#f-token', /^Valid, expires/);
    expect(sandbox.webhooks(userUri).filter((w) => w.state === 'active'), 'reconnect kept one hook').toHaveLength(1);
    await shot('reconnected');

    // 6. Calendly revokes every token (a password change): Reconnect asks for permission again
    //    and offers the authorize link, which goes through the consent page and back.
    await page.getByRole('button', { name: 'Revoke all tokens' }).click();
    await waitForText('#flash', 'revoked every token');
    await page.getByRole('button', { name: 'Reconnect Calendly' }).click();
    await waitForText('#flash', 'needs your permission again');
    const authorize = page.getByRole('link', { name: 'Authorize with Calendly' });
    await authorize.waitFor();
    await waitForText('#status-badge', /^Needs permission$/);
    await shot('authorization-required');
    await authorize.click();
    await page.getByRole('heading', { name: /wants to access your Calendly account/ }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await waitForText('#flash', 'Calendly is connected');
    await waitForText('#status-badge', /^Connected$/);
    await waitForText('#sandbox-hook', 'our webhook subscription is active');
    expect(sandbox.webhooks(userUri).filter((w) => w.state === 'active'), 'still exactly one hook').toHaveLength(1);

    // 7. At "Calendly": mark the invitee a no-show, reschedule, cancel, all from the rows; each
    //    delivery shows up here.
    await row.getByRole('button', { name: /^Mark Grace Hopper as no-show/ }).click();
    await waitForText('#flash', 'Marked Grace Hopper as no-show');
    await row.locator('.pill-noshow', { hasText: 'Yes' }).waitFor();
    await row.getByRole('button', { name: /^Reschedule E2E demo call/ }).click();
    await waitForText('#flash', 'Rescheduled “E2E demo call”');
    const rows = page.locator('#meetings-body tr', { hasText: 'E2E demo call' });
    const rescheduledFrom = rows.filter({ hasText: 'Canceled' }).filter({ hasText: 'Rescheduled' });
    const rescheduledTo = rows.filter({ hasText: 'Active' });
    await rescheduledFrom.waitFor();
    await rescheduledTo.waitFor();
    expect(await rows.count(), 'the old and the new meeting').toBe(2);
    await shot('meeting-rescheduled');
    await rescheduledTo.getByRole('button', { name: /^Cancel E2E demo call/ }).click();
    await waitForText('#flash', 'Canceled “E2E demo call”');
    // Both canceled now: no row of this meeting says Active any more.
    await rescheduledTo.waitFor({ state: 'detached' });
    expect(await rows.filter({ hasText: 'Canceled' }).count()).toBe(2);
    await shot('meeting-canceled');

    // 8. Disconnect, confirming in the dialog.
    await page.getByRole('button', { name: 'Disconnect Calendly' }).click();
    const dialog = page.getByRole('dialog', { name: 'Disconnect Calendly?' });
    await dialog.waitFor();
    await shot('confirm-disconnect');
    await dialog.getByRole('button', { name: 'Disconnect', exact: true }).click();
    await waitForText('#flash', 'Calendly is disconnected');
    await waitForText('#status-badge', /^Disconnected$/);
    await page.getByRole('button', { name: 'Connect Calendly' }).waitFor();
    expect(sandbox.webhooks(userUri).filter((w) => w.state === 'active'), 'our hook is gone at the sandbox').toHaveLength(0);
    await shot('disconnected');

    // Chromium logs every 4xx fetch: the 404 of a never-connected user is the contract's
    // answer, and the sandbox's consent page has no favicon (the browser asks on its own).
    const expected404 = (e: string) => e.includes('status of 404') && (e.includes('/connections/calendly') || e.includes('/favicon.ico'));
    const unexpected = pageErrors.filter((e) => !expected404(e));
    expect(unexpected, 'the page logged no errors').toEqual([]);
  }
});
