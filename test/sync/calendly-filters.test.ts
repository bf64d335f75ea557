/**
 * How the sync and the health check name the user to Calendly, in both readings of the
 * `/scheduled_events` filter rule (the sandbox's `eventsNeedOrganization` quirk), and a user who
 * moved to another organization.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processSyncMessage } from '../../functions/flows/sync/index.js';
import { connectUser, meetingItems, startHarness, type Harness } from './harness.js';

const DAY = 86_400_000;

describe('/scheduled_events is listed by user; the organization only when Calendly asks', { timeout: 90_000 }, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  const sync = async (userId: string, id: string) => processSyncMessage(h.syncDeps({ options: { pageSize: 20 } }), { userId, reason: 'connect' }, { messageId: id });

  it('documented reading: a plain member of an organization lists their own events by user alone (no 403, organization never sent)', async () => {
    const owner = h.sandbox.createUser({ email: 'filter-owner@example.test' });
    h.sandbox.createUser({ email: 'filter-member@example.test', organization: owner.organization });
    const { userId, user } = await connectUser(h, 'filter-member@example.test', { webhook: false });
    expect(user.role).toBe('user');
    h.sandbox.seedEvents(user.uri, 45, { startFrom: h.clock.now() + DAY, intervalMin: 30 });
    h.sandbox.resetCalls();
    expect((await sync(userId, 'm-member')).outcome).toBe('completed');
    // 3 pages of 20, each one call: sending the organization would have been a 403 for a plain member.
    expect(h.sandbox.calls()['GET /scheduled_events']).toBe(3);
    expect(await meetingItems(h, userId)).toHaveLength(45);
    expect((await h.connections.get(userId))?.eventsFilter).toBeUndefined();
  });

  it('other reading (user alone is a 403 asking for the organization): one 403, then both; remembered for later pages and syncs', async () => {
    h.sandbox.setQuirks({ eventsNeedOrganization: true });
    try {
      const { userId, user } = await connectUser(h, 'filter-org@example.test', { webhook: false });
      h.sandbox.seedEvents(user.uri, 45, { startFrom: h.clock.now() + DAY, intervalMin: 30 });
      h.sandbox.resetCalls();
      expect((await sync(userId, 'm-org-1')).outcome).toBe('completed');
      expect(h.sandbox.calls()['GET /scheduled_events']).toBe(3 + 1);
      expect(await meetingItems(h, userId)).toHaveLength(45);
      expect((await h.connections.get(userId))?.eventsFilter).toBe('user_and_organization');
      h.sandbox.resetCalls();
      expect((await sync(userId, 'm-org-2')).outcome).toBe('completed');
      expect(h.sandbox.calls()['GET /scheduled_events']).toBe(3);
    } finally {
      h.sandbox.setQuirks({ eventsNeedOrganization: false });
    }
  });

  it('another 403 (not the organization one) is not retried with the organization', async () => {
    const { userId } = await connectUser(h, 'filter-403@example.test', { webhook: false });
    h.sandbox.inject({ method: 'GET', path: '/scheduled_events', status: 403, body: { title: 'Permission Denied', message: 'You do not have permission to access this resource.' } });
    h.sandbox.resetCalls();
    expect((await sync(userId, 'm-403')).outcome).toBe('dropped');
    expect(h.sandbox.calls()['GET /scheduled_events']).toBe(1);
    expect((await h.connections.get(userId))?.eventsFilter).toBeUndefined();
  });
});
