import { describe, expect, it } from 'vitest';
import { catchUpStart, DEFAULT_CHECK_OPTIONS } from '../../functions/flows/health/index.js';
import { DEFAULT_SYNC_OPTIONS, mergeWork, resolveWindow } from '../../functions/flows/sync/index.js';
import { healthMessageSchema, parseMessage } from '../../functions/domain/messages.js';

const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const DAY = 86_400_000;

describe('sync windows', () => {
  it('defaults to 30 days back and a year ahead, fixed at acceptance', () => {
    expect(resolveWindow({}, NOW)).toEqual({
      minStartTime: new Date(NOW - DEFAULT_SYNC_OPTIONS.defaultLookbackMs).toISOString(),
      maxStartTime: new Date(NOW + DEFAULT_SYNC_OPTIONS.defaultLookaheadMs).toISOString(),
    });
    expect(DEFAULT_SYNC_OPTIONS.defaultLookbackMs).toBe(30 * DAY);
  });

  it('keeps a given lower bound and normalises it to UTC', () => {
    const w = resolveWindow({ minStartTime: '2026-05-20T02:00:00+02:00' }, NOW);
    expect(w.minStartTime).toBe('2026-05-20T00:00:00.000Z');
  });

  it('merges two pieces of work into their enclosing window, ids and reasons kept once', () => {
    const a = { minStartTime: '2026-05-01T00:00:00.000Z', maxStartTime: '2026-07-01T00:00:00.000Z', reasons: ['connect' as const], messageIds: ['a'] };
    const b = { minStartTime: '2026-04-01T00:00:00.000Z', maxStartTime: '2026-06-15T00:00:00.000Z', reasons: ['repair' as const, 'connect' as const], messageIds: ['b', 'a'] };
    expect(mergeWork(a, b)).toEqual({ minStartTime: b.minStartTime, maxStartTime: a.maxStartTime, reasons: ['connect', 'repair'], messageIds: ['a', 'b'] });
    expect(mergeWork(undefined, a)).toBe(a);
  });
});

describe('catch-up start after a repair', () => {
  it('is the earlier of last-healthy and retry_started_at, minus the margin', () => {
    const healthy = NOW - 2 * DAY;
    const retry = new Date(NOW - 3 * DAY).toISOString();
    expect(catchUpStart(NOW, healthy, retry)).toBe(new Date(NOW - 3 * DAY - DEFAULT_CHECK_OPTIONS.catchUpMarginMs).toISOString());
    expect(catchUpStart(NOW, healthy, null)).toBe(new Date(healthy - DEFAULT_CHECK_OPTIONS.catchUpMarginMs).toISOString());
  });
  it('falls back to a trailing week and never reaches beyond 30 days', () => {
    expect(catchUpStart(NOW, undefined, null)).toBe(new Date(NOW - 7 * DAY).toISOString());
    expect(catchUpStart(NOW, NOW - 90 * DAY, null)).toBe(new Date(NOW - 30 * DAY).toISOString());
  });
});

describe('health message schema', () => {
  it('is strict', () => {
    expect(parseMessage(healthMessageSchema, JSON.stringify({ userId: 'u', dueAt: 5 })).ok).toBe(true);
    expect(parseMessage(healthMessageSchema, JSON.stringify({ userId: 'u', force: true })).ok).toBe(true);
    expect(parseMessage(healthMessageSchema, JSON.stringify({ userId: 'u', extra: 1 }))).toMatchObject({ ok: false });
    expect(parseMessage(healthMessageSchema, '{')).toEqual({ ok: false, reason: 'body is not JSON' });
  });
});
