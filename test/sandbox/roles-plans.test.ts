/**
 * Who may list what on /scheduled_events (the organization filter is an admin's; a quirk plays
 * the 403 that asks for the organization), and the per-user API budget by plan (Free 50 per
 * minute, the real default for a new user; paid 500), over real HTTP.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSandbox as startBareSandbox } from '../../sandbox/index.js';
import type { Sandbox, SandboxUser } from '../support/sandbox.js';

let sb: Sandbox;
let owner: SandboxUser;
let member: SandboxUser;
let ownerToken: string;
let memberToken: string;

async function api(path: string, token: string, init: { method?: string; body?: unknown } = {}) {
  const res = await request(`${sb.baseUrl}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const q = (params: Record<string, string>) => `/scheduled_events?${new URLSearchParams(params)}`;
const ASK_ORG = 'Please also specify organization when requesting events for a user within your organization.';

beforeAll(async () => {
  const t0 = Date.parse('2030-09-01T08:00:00Z');
  // The sandbox as the local runtime gets it: no test-helper defaults (new users are on Free).
  sb = await startBareSandbox({ now: () => t0 });
  owner = sb.createUser({ email: 'owner@example.test' });
  member = sb.createUser({ email: 'member@example.test', organization: owner.organization });
  sb.seedEvents(owner.uri, 2);
  sb.seedEvents(member.uri, 3);
  ownerToken = sb.mintTokens(owner.uri).access_token;
  memberToken = sb.mintTokens(member.uri).access_token;
});
afterAll(() => sb.close());
afterEach(() => {
  sb.resetRateLimits();
  sb.setQuirks({ eventsNeedOrganization: false });
});

describe('roles on /scheduled_events', () => {
  it('a user who signs up alone owns their organization; one who joins is a plain member', () => {
    expect(owner.role).toBe('owner');
    expect(member.role).toBe('user');
  });

  it('user alone lists your own events; the organization filter needs an admin (403 for a member)', async () => {
    const own = await api(q({ user: member.uri }), memberToken);
    expect(own.status).toBe(200);
    expect((own.json.collection as unknown[]).length).toBe(3);
    for (const params of [{ organization: member.organization }, { organization: member.organization, user: member.uri }] as Record<string, string>[]) {
      const r = await api(q(params), memberToken);
      expect(r.status).toBe(403);
      expect(r.json).toEqual({ title: 'Permission Denied', message: 'You do not have permission to access this resource.' });
    }
    const orgWide = await api(q({ organization: owner.organization }), ownerToken);
    expect(orgWide.status).toBe(200);
    expect((orgWide.json.collection as unknown[]).length).toBe(5);
    expect((await api(q({ organization: owner.organization, user: member.uri }), ownerToken)).status).toBe(200);
  });

  it("a member cannot read a colleague's event; the owner can; organization-wide hooks need an admin", async () => {
    const ownersEvent = String(((await api(q({ user: owner.uri }), ownerToken)).json.collection as { uri: string }[])[0]!.uri);
    const path = new URL(ownersEvent).pathname;
    expect((await api(path, memberToken)).status).toBe(403);
    expect((await api(path, ownerToken)).status).toBe(200);
    const body = { url: 'http://127.0.0.1:9/org', events: ['invitee.created'], organization: owner.organization, scope: 'organization' };
    expect((await api('/webhook_subscriptions', memberToken, { method: 'POST', body })).status).toBe(403);
    expect((await api('/webhook_subscriptions', ownerToken, { method: 'POST', body })).status).toBe(201);
  });

  it('quirk eventsNeedOrganization: user alone is the 403 asking for the organization; organization + yourself works for a member', async () => {
    sb.setQuirks({ eventsNeedOrganization: true });
    const alone = await api(q({ user: member.uri }), memberToken);
    expect(alone.status).toBe(403);
    expect(alone.json).toEqual({ title: 'Permission Denied', message: ASK_ORG });
    const both = await api(q({ user: member.uri, organization: member.organization }), memberToken);
    expect(both.status).toBe(200);
    expect((both.json.collection as unknown[]).length).toBe(3);
    expect((await api(q({ organization: member.organization }), memberToken)).status).toBe(403);
  });

  it('moveUser: the user changes organization; the old one is refused on the subscription list, /users/me and token answers name the new one', async () => {
    const mover = sb.createUser({ email: 'mover@example.test' });
    const minted = sb.mintTokens(mover.uri);
    const subs = (org: string) => `/webhook_subscriptions?${new URLSearchParams({ organization: org, user: mover.uri, scope: 'user' })}`;
    expect((await api(subs(mover.organization), minted.access_token)).status).toBe(200);
    // Over HTTP, as a settings page or another process would do it.
    const moved = await request(`${sb.baseUrl}/__sandbox/users/update`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userUri: mover.uri, organization: owner.organization }) });
    const view = (await moved.body.json()) as SandboxUser;
    expect(view).toMatchObject({ organization: owner.organization, role: 'user' });
    expect((await api(subs(mover.organization), minted.access_token)).status).toBe(403);
    expect((await api(subs(owner.organization), minted.access_token)).status).toBe(200);
    expect(((await api('/users/me', minted.access_token)).json.resource as Record<string, unknown>).current_organization).toBe(owner.organization);
    expect(sb.mintTokens(mover.uri).organization).toBe(owner.organization);
    // Without an organization: a new one the user owns.
    const alone = sb.moveUser(mover.uri);
    expect(alone.organization).not.toBe(owner.organization);
    expect(alone.role).toBe('owner');
  });
});

describe('rate limits by plan', () => {
  it('a new user is on Free: 50 requests a minute, then 429 with the reset headers; others unaffected', async () => {
    const u = sb.createUser({ email: 'free@example.test' });
    expect(u.plan).toBe('free');
    const t = sb.mintTokens(u.uri).access_token;
    for (let i = 1; i <= 50; i++) {
      const r = await api('/users/me', t);
      expect(r.status).toBe(200);
      if (i === 1) expect(r.headers['x-ratelimit-limit']).toBe('50');
    }
    const limited = await api('/users/me', t);
    expect(limited.status).toBe(429);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    expect((await api('/users/me', ownerToken)).status).toBe(200);
    sb.advance(60_000);
    expect((await api('/users/me', t)).status).toBe(200);
  });

  it('a paid user gets 500 a minute (createUser option or setUserPlan)', async () => {
    const paid = sb.createUser({ email: 'paid@example.test', plan: 'paid' });
    const t = sb.mintTokens(paid.uri).access_token;
    expect((await api('/users/me', t)).headers['x-ratelimit-limit']).toBe('500');
    const upgraded = sb.createUser({ email: 'upgraded@example.test' });
    sb.setUserPlan(upgraded.uri, 'paid');
    const t2 = sb.mintTokens(upgraded.uri).access_token;
    for (let i = 0; i < 60; i++) expect((await api('/users/me', t2)).status).toBe(200);
    expect((await api('/users/me', t2)).headers['x-ratelimit-remaining']).toBe(String(500 - 61));
  });

  it('setRateLimits({ api }) overrides every plan; null goes back to the plans', async () => {
    sb.setRateLimits({ api: 2 });
    try {
      expect((await api('/users/me', ownerToken)).headers['x-ratelimit-limit']).toBe('2');
    } finally {
      sb.setRateLimits({ api: null });
    }
    sb.resetRateLimits();
    expect((await api('/users/me', ownerToken)).headers['x-ratelimit-limit']).toBe('50');
  });
});
