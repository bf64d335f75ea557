import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncStateStore, type SyncStateStore } from '../../functions/store/sync-state.js';
import { startDynalite, type TestDynamo } from '../support/dynalite.js';

describe('sync state: version-guarded put on top of a known snapshot', () => {
  let db: TestDynamo;
  let a: SyncStateStore;
  let b: SyncStateStore;
  beforeAll(async () => {
    db = await startDynalite();
    a = createSyncStateStore(db.doc, db.tables.syncState);
    b = createSyncStateStore(db.newClients().doc, db.tables.syncState);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('a current snapshot is written without a read; a stale one loses the guard, is re-read and re-decided', async () => {
    const mine = await a.update('u1', (cur) => ({ ...cur, leaseOwner: 'me', runsCompleted: 1 }));
    const next = await a.update('u1', (cur) => ({ ...cur, runsCompleted: cur.runsCompleted + 1 }), mine);
    expect(next.version).toBe(mine.version + 1);
    expect((await a.get('u1')).runsCompleted).toBe(2);

    // Another worker writes meanwhile (a merge): our snapshot is now stale.
    await b.update('u1', (cur) => ({ ...cur, lastError: 'merged' }));
    const seen: string[] = [];
    const after = await a.update(
      'u1',
      (cur) => {
        seen.push(cur.lastError ?? 'none');
        return { ...cur, runsCompleted: cur.runsCompleted + 1 };
      },
      next,
    );
    expect(seen).toEqual(['none', 'merged']); // tried on the snapshot, then decided again on the stored state
    const stored = await a.get('u1');
    expect(stored).toMatchObject({ runsCompleted: 3, lastError: 'merged', version: after.version });
  });

  it('a throw or a "write nothing" on a stale snapshot is re-decided on the stored state', async () => {
    const s0 = await a.update('u2', (cur) => ({ ...cur, leaseOwner: 'me' }));
    await b.update('u2', (cur) => ({ ...cur, leaseOwner: 'other' }));
    const owners: string[] = [];
    await expect(
      a.update(
        'u2',
        (cur) => {
          owners.push(String(cur.leaseOwner));
          if (cur.leaseOwner !== 'me') throw new Error('lease lost');
          return null;
        },
        s0,
      ),
    ).rejects.toThrow('lease lost');
    expect(owners).toEqual(['me', 'other']);
    const cur = await a.get('u2');
    expect(await a.update('u2', () => null, { ...s0, leaseOwner: 'stale' })).toEqual(cur); // null answers the stored state, not the snapshot
  });

  it('reconcile claims: of ten health checks at once in one interval, one queues; the next interval (or force) claims again', async () => {
    const t0 = Date.UTC(2026, 0, 1);
    const HOUR = 3_600_000;
    const stores = [a, b];
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.claimReconcile('u-rec', { nowMs: t0 + i, intervalMs: 24 * HOUR })));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await a.claimReconcile('u-rec', { nowMs: t0 + 23 * HOUR, intervalMs: 24 * HOUR })).toBe(false);
    expect(await a.claimReconcile('u-rec', { nowMs: t0 + 23 * HOUR, intervalMs: 24 * HOUR, force: true })).toBe(true);
    expect(await a.claimReconcile('u-rec', { nowMs: t0 + 48 * HOUR, intervalMs: 24 * HOUR })).toBe(true);
    expect((await a.get('u-rec')).reconcileQueuedAt).toBe(t0 + 48 * HOUR);
    // A claim whose message could not be sent is taken back, so the next check queues it.
    await a.releaseReconcile('u-rec', t0 + 48 * HOUR);
    expect(await b.claimReconcile('u-rec', { nowMs: t0 + 48 * HOUR + 1, intervalMs: 24 * HOUR })).toBe(true);
  });
});
