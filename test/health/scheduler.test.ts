import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHealthTick, type HealthSchedulerDeps } from '../../functions/flows/health/index.js';
import { healthMessageSchema } from '../../functions/domain/messages.js';
import { createHealthSchedulerHandler } from '../../functions/edge/health-scheduler.js';
import { CHECK_SHARDS } from '../../functions/store/connections/index.js';
import { queueDepth, startHarness, storeConnection, takeMessages, type Harness } from '../sync/harness.js';

/**
 * The fan-out reads only the byCheckDue index and the queue, never Calendly or tokens, so the
 * connections here are index entries written by the connection store with placeholder tokens.
 */
describe('health scheduler: due connections from the sharded index to the health queue (fauxqs)', () => {
  let h: Harness;
  const due: string[] = [];
  const notDue: string[] = [];
  const deps = (over: Partial<HealthSchedulerDeps> = {}): HealthSchedulerDeps => ({
    listDue: (shard, nowMs, limit, startKey) => h.connections.listDue(shard, nowMs, limit, startKey),
    shards: CHECK_SHARDS,
    queue: h.queue,
    clock: h.clock,
    random: () => 0,
    options: { periodMs: 15 * 60_000 },
    ...over,
  });

  beforeAll(async () => {
    h = await startHarness();
    const tokens = { accessToken: 'placeholder-a', refreshToken: 'placeholder-r', expiresAt: h.clock.now() + 7200_000, ownerUri: 'https://api.calendly.com/users/x', organizationUri: 'https://api.calendly.com/organizations/x' };
    for (let i = 0; i < 30; i++) {
      const userId = `sched-${i}`;
      await storeConnection(h, userId, tokens); // due at once (nextCheckAt = now)
      if (i < 20) due.push(userId);
      else {
        await h.connections.recordCheck(userId, { outcome: 'healthy', checkedAt: h.clock.now(), nextCheckAt: h.clock.now() + 3600_000 });
        notDue.push(userId);
      }
    }
    h.sandbox.advance(1);
  });
  afterAll(async () => h?.close());

  it('enqueues every due connection once, and only those, with its due time', async () => {
    const summary = await runHealthTick(deps(), { kind: 'health-tick' });
    expect(summary).toMatchObject({ enqueued: 20, shards: CHECK_SHARDS, all: false });
    expect(summary.pages).toBeGreaterThanOrEqual(CHECK_SHARDS);
    const msgs = await takeMessages(h, 'health', 100);
    expect(msgs).toHaveLength(20);
    for (const m of msgs) expect(healthMessageSchema.safeParse(m).success).toBe(true);
    expect(new Set(msgs.map((m) => (m as { userId: string }).userId))).toEqual(new Set(due));
    for (const m of msgs) expect((m as { dueAt: number }).dueAt).toBeLessThanOrEqual(h.clock.now());
  });

  it('pages the index (small pages give the same set) and spreads the batches over most of the period', async () => {
    const summary = await runHealthTick(deps({ options: { periodMs: 15 * 60_000, pageSize: 3 }, random: () => 0.9999 }), { kind: 'health-tick' });
    expect(summary.enqueued).toBe(20);
    expect(summary.pages).toBeGreaterThan(CHECK_SHARDS);
    expect(summary.maxDelaySeconds).toBe(720); // 80 % of 15 min
    const depth = await queueDepth(h, 'health');
    expect(depth.visible).toBe(0);
    expect(depth.delayed).toBe(20);
    // Each batch draws its own delay.
    const draws: number[] = [];
    const spread = await runHealthTick(
      deps({
        random: () => {
          const r = (draws.length % 4) / 4;
          draws.push(r);
          return r;
        },
      }),
      { kind: 'health-tick' },
    );
    expect(spread.enqueued).toBe(20);
    expect(draws).toHaveLength(spread.batches);
    expect(spread.batches).toBeGreaterThan(1);
    expect(spread.maxDelaySeconds).toBeGreaterThan(0);
  });

  it('all:true (local /dev/health-check) enqueues every indexed connection, forced, without delay', async () => {
    await takeMessages(h, 'health', 100);
    const handler = createHealthSchedulerHandler(() => deps({ random: () => 0.5 }));
    const summary = await handler({ kind: 'health-tick', all: true });
    expect(summary).toMatchObject({ enqueued: 30, all: true, maxDelaySeconds: 0 });
    const msgs = await takeMessages(h, 'health', 100);
    expect(msgs).toHaveLength(30);
    expect(new Set(msgs.map((m) => (m as { userId: string }).userId))).toEqual(new Set([...due, ...notDue]));
    for (const m of msgs) expect(m).toEqual({ userId: expect.any(String), force: true });
  });

  it('refuses a malformed tick', async () => {
    const handler = createHealthSchedulerHandler(() => deps());
    await expect(handler({ kind: 'other' })).rejects.toThrow(/health-tick/);
    await expect(handler({ kind: 'health-tick', all: 'yes' })).rejects.toThrow(/health-tick/);
  });
});
