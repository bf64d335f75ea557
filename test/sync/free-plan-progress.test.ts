/**
 * A Free-plan sync (50 API requests per user per window) of more events than a window allows,
 * run the way the queue runs it: an invocation stops when its rate window is spent (handing off
 * with a delayed resume kick) and the next one carries on. A page of 100 events needs up to 101
 * calls, more than one window: the page's progress must survive the hand-off, or a resumed page
 * would start over and a user with many events would never finish.
 *
 * Over real HTTP against the sandbox, with a short rate window on a clock that moves only when
 * the flows wait (or the queue's delay passes), and a fresh Calendly client per invocation (a
 * new Lambda knows nothing of the budget the last one spent). Every API answer is observed on
 * undici's diagnostics channel: its status and X-RateLimit-Reset say which window it fell in.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processSyncMessage, type SyncDeps } from '../../functions/flows/sync/index.js';
import type { SyncMessage } from '../../functions/domain/messages.js';
import type { Queue } from '../../functions/ports.js';
import { isCalendlyError } from '../../functions/calendly/port.js';
import { connectSandboxUser, sandboxClient } from '../support/sandbox.js';
import { connectUser, meetingItems, startHarness, type Harness } from './harness.js';

const DAY = 86_400_000;
const WINDOW_MS = 10_000;
const FREE_LIMIT = 50;
const EVENTS = 320;

interface Answer {
  status: number;
  /** An invitee list (else an event list). */
  invitees: boolean;
  at: number;
  /** When the answer's window ends, give or take the header's rounding to whole seconds. */
  windowEndsBy: number;
}

describe('a Free-plan sync larger than a rate window', { timeout: 120_000 }, () => {
  let h: Harness;
  let t = 0;
  const answers: Answer[] = [];
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: { origin: string; path: string }; response: { statusCode: number; headers: Buffer[] } };
    if (!h || !String(request.origin).startsWith(h.sandbox.baseUrl) || !request.path.startsWith('/scheduled_events')) return;
    let reset = Number.NaN;
    for (let i = 0; i + 1 < response.headers.length; i += 2) {
      if (String(response.headers[i]).toLowerCase() === 'x-ratelimit-reset') reset = Number(String(response.headers[i + 1]));
    }
    const at = h.clock.now();
    answers.push({ status: response.statusCode, invitees: request.path.includes('/invitees'), at, windowEndsBy: at + reset * 1000 });
  };

  beforeAll(async () => {
    // The base clock stands still: sandbox time moves only by the flows' waits and the queue's delays.
    const base = Date.now();
    h = await startHarness({ sandbox: { now: () => base, rateWindowMs: WINDOW_MS } });
    subscribe('undici:request:headers', onHeaders);
  });
  afterAll(async () => {
    unsubscribe('undici:request:headers', onHeaders);
    await h?.close();
  });
  beforeEach(() => {
    answers.length = 0;
  });
  afterEach(() => {
    t += 1;
  });

  /**
   * Drives one sync to its end as the queue would: each invocation gets a fresh client; a
   * hand-off's resume kick is delivered once its delay has passed on the sandbox clock.
   */
  async function syncToTheEnd(userId: string, options: SyncDeps['options'], o: { deadlineAfterMs?: number; maxRuns?: number } = {}) {
    const { deadlineAfterMs, maxRuns = 40 } = o;
    const runs: Array<{ outcome: string; storedAfter: number }> = [];
    let msg: SyncMessage = { userId, reason: 'connect' };
    for (let i = 0; i < maxRuns; i++) {
      const sent: Array<{ body: SyncMessage; delaySeconds: number }> = [];
      const queue: Queue = {
        async send(_name, bodies, opts) {
          for (const body of bodies) sent.push({ body: body as SyncMessage, delaySeconds: opts?.delaySeconds ?? 0 });
        },
      };
      const deps = h.syncDeps({ calendly: sandboxClient(h.sandbox, { sleeper: h.sleeper, clock: h.clock }), queue, options });
      const r = await processSyncMessage(deps, msg, {
        messageId: `m-${t}-${i}`,
        ...(deadlineAfterMs !== undefined ? { deadlineMs: h.clock.now() + deadlineAfterMs } : {}),
      });
      runs.push({ outcome: r.outcome, storedAfter: (await meetingItems(h, userId)).length });
      if (r.outcome === 'completed') return runs;
      expect(['deferred', 'continued']).toContain(r.outcome);
      expect(sent).toHaveLength(1);
      const kick = sent[0] as { body: SyncMessage; delaySeconds: number };
      h.sandbox.advance(kick.delaySeconds * 1000);
      msg = kick.body;
    }
    throw new Error(`the sync had not finished after ${maxRuns} invocations: ${JSON.stringify(runs)}`);
  }

  /**
   * No window lost: every window the sync called in, but the last, had its whole budget spent
   * (a window waited out for nothing, or half used, would make more windows than this).
   */
  function expectEveryWindowSpent() {
    const ok = answers.filter((a) => a.status === 200).length;
    expect(refusalsPerWindow().length).toBe(Math.ceil(ok / FREE_LIMIT));
  }

  /** 429s per rate window: answers whose windows end within a second of each other share one. */
  function refusalsPerWindow(): number[] {
    const ends = [...new Set(answers.map((a) => a.windowEndsBy))].sort((a, b) => a - b);
    const windows: number[][] = [];
    for (const end of ends) {
      const last = windows.at(-1);
      if (last && end - (last[0] as number) < 1000) last.push(end);
      else windows.push([end]);
    }
    return windows.map((w) => answers.filter((a) => a.status === 429 && w.includes(a.windowEndsBy)).length);
  }

  async function freeUserWithEvents(email: string) {
    const { userId, user } = await connectUser(h, email, { webhook: false });
    h.sandbox.setUserPlan(user.uri, 'free');
    h.sandbox.seedEvents(user.uri, EVENTS, { startFrom: h.clock.now() + DAY, intervalMin: 30 });
    h.sandbox.resetRateLimits();
    return userId;
  }

  /** Every event stored with its invitee, and each invocation stored events the one before had not. */
  async function expectAllStoredWithProgress(userId: string, runs: Array<{ storedAfter: number }>) {
    const meetings = await meetingItems(h, userId);
    expect(meetings).toHaveLength(EVENTS);
    expect(meetings.every((m) => Object.keys(m.invitees ?? {}).length === 1)).toBe(true);
    let before = 0;
    for (const r of runs) {
      expect(r.storedAfter).toBeGreaterThan(before);
      before = r.storedAfter;
    }
    // Each event's invitees were fetched once: a resumed page skips the events it had stored.
    expect(answers.filter((a) => a.status === 200 && a.invitees)).toHaveLength(EVENTS);
  }

  it(`${EVENTS} events, every spent window handed off: each invocation stores more, none repeats a call, at most one 429 per window`, async () => {
    const userId = await freeUserWithEvents('free-handoff@example.test');
    // No wait is taken in place: every invocation ends when its window's budget is spent.
    const runs = await syncToTheEnd(userId, { pageSize: 100, maxInlineWaitMs: 0 });

    await expectAllStoredWithProgress(userId, runs);
    // One window per invocation, so more invocations than the events alone need windows.
    expect(runs.length).toBeGreaterThanOrEqual(Math.ceil(EVENTS / FREE_LIMIT));
    // The list calls: one per page, plus one per resume of a page.
    expect(answers.filter((a) => a.status === 200 && !a.invitees).length).toBeLessThanOrEqual(Math.ceil(EVENTS / 100) + 1 + runs.length);

    const perWindow = refusalsPerWindow();
    expect(perWindow.length).toBeGreaterThanOrEqual(Math.ceil((EVENTS + Math.ceil(EVENTS / 100)) / FREE_LIMIT));
    expect(Math.max(...perWindow)).toBeLessThanOrEqual(1);
    expectEveryWindowSpent();
  });

  it(`${EVENTS} events, waits taken in place while they end before the deadline: a few invocations, each over several windows, no window lost`, async () => {
    const userId = await freeUserWithEvents('free-in-place@example.test');
    // Only the deadline lets a wait be taken in place: three windows' time per invocation.
    const runs = await syncToTheEnd(userId, { pageSize: 100, maxInlineWaitMs: 0 }, { deadlineAfterMs: 3 * WINDOW_MS });

    await expectAllStoredWithProgress(userId, runs);
    const perWindow = refusalsPerWindow();
    expect(runs.length).toBeLessThan(perWindow.length / 2);
    expect(Math.max(...perWindow)).toBeLessThanOrEqual(1);
    expectEveryWindowSpent();
  });

  it('a fresh invocation in a window another app of the user has spent: its concurrent calls cost one 429, not one each', async () => {
    const { user, tokens } = await connectSandboxUser(h.sandbox, h.client, { email: 'free-shared@example.test' });
    h.sandbox.setUserPlan(user.uri, 'free');
    const uris = h.sandbox.seedEvents(user.uri, 8, { startFrom: h.clock.now() + DAY });
    h.sandbox.resetRateLimits();
    // Another app of the same user, with a token of its own, spends the window (the budget is the user's).
    const other = await connectSandboxUser(h.sandbox, h.client, { email: 'free-shared@example.test' });
    const otherClient = sandboxClient(h.sandbox, { clock: h.clock, maxRateLimitWaitMs: 0 });
    for (let i = 0; i < FREE_LIMIT; i++) await otherClient.getCurrentUser(other.tokens.accessToken);

    // A new Lambda's client knows nothing of this window: eight invitee lists at once, as a page does.
    const fresh = sandboxClient(h.sandbox, { clock: h.clock, sleeper: h.sleeper, maxRateLimitWaitMs: 0 });
    const outcomes = await Promise.allSettled(
      uris.map(async (uri) => {
        for await (const _ of fresh.listEventInvitees(tokens.accessToken, uri)) void _;
      }),
    );
    expect(outcomes.every((o) => o.status === 'rejected' && isCalendlyError(o.reason, 'rate_limited'))).toBe(true);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(1);
  });

  it(`${EVENTS} events already past its deadline at each start: every invocation still stores some events, then hands off at once`, async () => {
    const userId = await freeUserWithEvents('free-deadline@example.test');
    const runs = await syncToTheEnd(userId, { pageSize: 100, inviteeConcurrency: 4 }, { deadlineAfterMs: -1, maxRuns: 200 });

    await expectAllStoredWithProgress(userId, runs);
    // Past its deadline an invocation takes no new event: it stores what it had in flight.
    runs.forEach((r, i) => expect(r.storedAfter - (runs[i - 1]?.storedAfter ?? 0)).toBeLessThanOrEqual(4));
    expect(runs.filter((r) => r.outcome === 'continued').length).toBeGreaterThan(1);
    expect(Math.max(...refusalsPerWindow())).toBeLessThanOrEqual(1);
  });
});
