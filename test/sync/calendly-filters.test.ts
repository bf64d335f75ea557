/**
 * How the sync and the health check name the user to Calendly, in both readings of the
 * `/scheduled_events` filter rule (the sandbox's `eventsNeedOrganization` quirk), and a user who
 * moved to another organization.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConnectionHealth } from '../../functions/flows/health/index.js';
import { processSyncMessage } from '../../functions/flows/sync/index.js';
import { healthDepsFrom } from '../../functions/wiring/health-worker.js';
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

describe('a user who moved to another organization', { timeout: 90_000 }, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('the health check re-reads /users/me on the 403 under the stored organization, retries once there, stores it and repairs the hook under it', async () => {
    const { userId, user } = await connectUser(h, 'mover@example.test');
    const deps = healthDepsFrom(h.cd);
    expect((await checkConnectionHealth(deps, { userId, force: true })).outcome).toBe('healthy');
    const moved = h.sandbox.moveUser(user.uri);
    expect(moved.organization).not.toBe(user.organization);
    h.sandbox.resetCalls();
    const r = await checkConnectionHealth(deps, { userId, force: true });
    // Its hook lives under the old organization: not listed under the new one, so it is re-created there.
    expect(r).toMatchObject({ outcome: 'repaired', problem: 'missing' });
    expect(h.sandbox.calls()['GET /users/me']).toBe(1);
    expect((await h.connections.get(userId))?.organizationUri).toBe(moved.organization);
    expect(h.sandbox.webhooks(user.uri).filter((w) => w.state === 'active' && w.organization === moved.organization)).toHaveLength(1);
    // Later checks go straight to the new organization: one call.
    h.sandbox.resetCalls();
    expect((await checkConnectionHealth(deps, { userId, force: true })).outcome).toBe('healthy');
    expect(h.sandbox.calls()).toEqual({ 'GET /webhook_subscriptions': 1 });
  });

  it('a refresh whose token answer names another organization stores it', async () => {
    const { userId, user } = await connectUser(h, 'refresh-mover@example.test');
    const moved = h.sandbox.moveUser(user.uri);
    await h.cd.connections.recordCalendlyFacts(userId, user.uri, { eventsFilter: 'user_and_organization' });
    const { getAccessToken } = await import('../../functions/flows/tokens.js');
    await getAccessToken(h.cd, userId, { forceRefresh: true });
    const conn = await h.connections.get(userId);
    expect(conn?.organizationUri).toBe(moved.organization);
    // The events filter was learned under the old organization: forgotten.
    expect(conn?.eventsFilter).toBeUndefined();
  });

  it('a 403 while the user is still in the stored organization is not retried', async () => {
    const { userId } = await connectUser(h, 'stayer@example.test');
    h.sandbox.inject({ method: 'GET', path: '/webhook_subscriptions', status: 403, body: { title: 'Permission Denied', message: 'You do not have permission to access this resource.' } });
    h.sandbox.resetCalls();
    expect((await checkConnectionHealth(healthDepsFrom(h.cd), { userId, force: true })).outcome).toBe('error');
    expect(h.sandbox.calls()['GET /webhook_subscriptions']).toBe(1);
    expect(h.sandbox.calls()['GET /users/me']).toBe(1);
  });
});
