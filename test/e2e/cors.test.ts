/**
 * The SaaS's own settings page on another origin calls the API from a real browser (Chromium
 * via playwright-core): with ALLOWED_ORIGINS listing the page's origin, the browser's preflight
 * succeeds and the page reads the answers of calls made with `Authorization: Bearer ...`; from
 * an origin not listed the browser refuses the same calls. The pages are served by two small
 * HTTP servers on other 127.0.0.1 ports (another port is another origin).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { startTestRuntime, type LocalRuntime } from '../support/runtime.js';

/** A page server: `/` is an empty page, so scripts run on its origin. */
async function startPageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Another app</title><p>Another app</p></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface CallResult {
  ok: boolean;
  status?: number;
  body?: unknown;
  error?: string;
}

/** fetch() from the page, as the page's own script would call the API. */
function callFromPage(page: Page, url: string, method: string, token: string): Promise<CallResult> {
  return page.evaluate(
    async ({ url, method, token }) => {
      try {
        const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
        return { ok: true, status: res.status, body: await res.json() };
      } catch (err) {
        return { ok: false, error: String(err) };
      }
    },
    { url, method, token },
  );
}

let runtime: LocalRuntime;
let browser: Browser;
let listed: { server: Server; origin: string };
let unlisted: { server: Server; origin: string };

beforeAll(async () => {
  [listed, unlisted, browser] = await Promise.all([startPageServer(), startPageServer(), launchBrowser()]);
  runtime = await startTestRuntime({ env: { ALLOWED_ORIGINS: listed.origin } });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await runtime?.stop();
  for (const s of [listed?.server, unlisted?.server]) await new Promise((r) => (s ? s.close(r) : r(undefined)));
}, 120_000);

async function openPage(origin: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  return page;
}

describe('CORS from a real browser', () => {
  it('a page on a listed origin calls the API with Authorization and reads the answers', async () => {
    const page = await openPage(listed.origin);
    const token = await runtime.mintToken('cors-browser-user');
    const meetings = await callFromPage(page, `${runtime.baseUrl}/meetings`, 'GET', token);
    expect(meetings).toEqual({ ok: true, status: 200, body: { meetings: [] } });
    const disconnect = await callFromPage(page, `${runtime.baseUrl}/connections/calendly`, 'DELETE', token);
    expect(disconnect).toEqual({ ok: true, status: 200, body: { status: 'disconnected' } });
    // A bad token is the API's 401, which the page can read (so it can sign in again).
    const refused = await callFromPage(page, `${runtime.baseUrl}/meetings`, 'GET', 'not-a-token');
    expect(refused).toEqual({ ok: true, status: 401, body: { message: 'Unauthorized' } });
    await page.close();
  });

  it('a page on an origin not listed cannot call it: the browser refuses', async () => {
    const page = await openPage(unlisted.origin);
    const token = await runtime.mintToken('cors-browser-user');
    const meetings = await callFromPage(page, `${runtime.baseUrl}/meetings`, 'GET', token);
    expect(meetings.ok).toBe(false);
    expect(meetings.error).toMatch(/Failed to fetch/);
    const disconnect = await callFromPage(page, `${runtime.baseUrl}/connections/calendly`, 'DELETE', token);
    expect(disconnect.ok).toBe(false);
    await page.close();
  });
});
