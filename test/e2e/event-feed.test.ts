/**
 * The settings page's feed of `Meeting Changed` events, in real Chromium against the local
 * runtime. The events are put on the runtime's in-process bus directly (its test hook), built by
 * the domain from real merges, so each test controls exactly what the feed must show; that real
 * writes publish onto that bus is test/local/real-handlers.test.ts and test/sync/reconcile.test.ts.
 * The page reads them through GET /dev/events like any reader. No sleeps: every wait is for
 * something visible.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeEventsOf } from '../support/meeting-events.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime.js';
import { collectPageErrors, launchBrowser, lowContrastText, screenshots } from '../support/browser.js';
import { at, inviteePayload, upd } from '../ingest/scenarios.js';

const TIMEOUT_MS = 60_000;

let runtime: LocalRuntime;
let browser: Browser;
let page: Page;
let pageErrors: string[];

const booked = (ev: string, name: string) =>
  upd('invitee.created', inviteePayload({ ev, inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1), name } }));

describe('settings page: the event feed beside the meetings table', () => {
  beforeAll(async () => {
    [runtime, browser] = await Promise.all([
      startLocalRuntime({ port: 0, dataDir: ':memory:', healthIntervalSeconds: 0, env: { LOG_LEVEL: 'WARN' } }),
      launchBrowser(),
    ]);
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(TIMEOUT_MS);
    pageErrors = collectPageErrors(page);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await runtime?.stop();
  }, 120_000);

  it('shows the signed-in user\'s events as they are published, newest first, and no one else\'s', async () => {
    const shot = screenshots(page, 'event-feed');
    // One event before the page opens: the first read starts at the beginning of the log.
    runtime.events.append(changeEventsOf('demo-user', [booked('EF1', 'Intro call')]));
    await page.goto(`${runtime.baseUrl}/`);
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' });
    await page.locator('#events-feed li', { hasText: 'Booked · Intro call' }).waitFor();
    expect(await page.locator('#events-empty').isVisible()).toBe(false);

    // Beside the meetings table, not under it, on a wide screen.
    const meetings = await page.locator('#meetings-card').boundingBox();
    const events = await page.locator('#events-card').boundingBox();
    expect(events!.x).toBeGreaterThan(meetings!.x + meetings!.width - 1);
    expect(Math.abs(events!.y - meetings!.y)).toBeLessThan(5);

    // Published while the page is open: picked up by its polling.
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'EF1', inv: 'I1', status: 'canceled', updatedAt: at(5), event: { status: 'canceled', updatedAt: at(5), name: 'Intro call' } }));
    const later = changeEventsOf('demo-user', [booked('EF1', 'Intro call'), canceled]).slice(1);
    runtime.events.append([...changeEventsOf('someone-else', [booked('EF2', 'Not yours')]), ...later]);
    await page.locator('#events-feed li', { hasText: 'Invitee canceled · Intro call' }).waitFor();
    const items = await page.locator('#events-feed li').allInnerTexts();
    expect(items.map((t) => t.split('\n')[0])).toEqual(['Invitee canceled · Intro call', 'Canceled · Intro call', 'Booked · Intro call']);
    expect(items.join(' ')).not.toContain('Not yours');
    expect(items[0]).toMatch(/version 3/);
    // A screen reader finds it by its heading and hears the three entries.
    expect(await page.getByRole('list', { name: 'Meeting events' }).getByRole('listitem').count()).toBe(3);
    expect(await lowContrastText(page)).toEqual([]);
    await shot('three-events');
    // Chromium logs every 4xx fetch: the 404 of a never-connected user is the contract's answer.
    expect(pageErrors.filter((e) => !(e.includes('status of 404') && e.includes('/connections/calendly')))).toEqual([]);
  }, 180_000);
});
