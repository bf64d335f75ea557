/**
 * GET /scheduled_events (filters, sort, keyset pages), one event, its invitees and one invitee.
 * All need `scheduled_events:read`. Who may list what: `user` alone is for your own events;
 * `organization` (alone, or with another member's `user`) needs an admin or owner.
 */
import { authenticate, permissionDenied } from './api-auth.js';
import type { Ctx, EventRec, UserRec } from './records.js';
import { eventJson, inviteeJson, userEvents } from './resources.js';
import type { SandboxState } from './state.js';
import { apiError, invalidArgument, lastSegment, notFound, paginate, pagination, parseCount, type Reply } from './util.js';

const cannotView = () => apiError(403, 'Permission Denied', 'You are not allowed to view this event');

const isAdmin = (u: UserRec) => u.role !== 'user';

/** Your own events, or (admins and owners) any event of your organization. */
function canSee(me: UserRec, e: EventRec): boolean {
  return e.userUri === me.uri || (e.orgUri === me.organization && isAdmin(me));
}

const SCOPE = 'scheduled_events:read';

export function listEvents(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, SCOPE);
  const q = ctx.query;
  const user = q.get('user');
  const organization = q.get('organization');
  const details: { parameter: string; message: string }[] = [];
  if (!user && !organization && !q.get('group')) details.push({ parameter: 'user', message: 'one of user, organization or group is required' });
  const status = q.get('status');
  if (status && status !== 'active' && status !== 'canceled') details.push({ parameter: 'status', message: 'must be one of: active, canceled' });
  const sort = q.get('sort') ?? 'start_time:asc';
  if (sort !== 'start_time:asc' && sort !== 'start_time:desc') details.push({ parameter: 'sort', message: 'is invalid' });
  const timeParam = (name: string): number | null => {
    const v = q.get(name);
    if (v === null) return null;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) details.push({ parameter: name, message: 'must be an ISO-8601 timestamp' });
    return ms;
  };
  const min = timeParam('min_start_time');
  const max = timeParam('max_start_time');
  const count = parseCount(q.get('count'));
  if (details.length) throw invalidArgument(details);
  const askOrganization = () => apiError(403, 'Permission Denied', 'Please also specify organization when requesting events for a user within your organization.');
  if (organization && organization !== me.organization) throw permissionDenied();
  if (user && user !== me.uri) {
    const target = s.users.get(user);
    if (!organization) throw askOrganization();
    if (!target || target.organization !== me.organization) throw apiError(403, 'Permission Denied', 'This user is not in your organization');
  }
  if (user === me.uri && !organization && s.quirks.eventsNeedOrganization) throw askOrganization();
  // The organization filter is an admin's tool; the quirk lets a member pair it with themselves.
  const ownWithOrg = user === me.uri && s.quirks.eventsNeedOrganization;
  if (organization && !isAdmin(me) && !ownWithOrg) throw permissionDenied();
  const email = q.get('invitee_email')?.toLowerCase() ?? null;
  let source: EventRec[];
  if (user) source = userEvents(s, user);
  else {
    source = [];
    for (const [uri, u] of s.users) if (u.organization === organization) source.push(...userEvents(s, uri));
    source.sort((a, b) => a.startMs - b.startMs || (a.uuid < b.uuid ? -1 : 1));
  }
  const desc = sort === 'start_time:desc';
  let list = source.filter(
    (e) =>
      (!organization || e.orgUri === organization) &&
      (!status || e.status === status) &&
      (min === null || e.startMs >= min) &&
      (max === null || e.startMs < max) &&
      (!email || e.invitees.some((id) => s.invitees.get(id)?.email === email)),
  );
  if (desc) list = list.reverse();
  const page = paginate(list, (e) => [e.startMs, e.uuid], desc, count, q.get('page_token') ?? undefined);
  return {
    status: 200,
    json: { collection: page.items.map((e) => eventJson(s, e)), pagination: pagination(s.baseUrl, '/scheduled_events', q, count, page.items.length, page.next, page.prev) },
  };
}

export function getEventApi(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, SCOPE);
  const e = s.events.get(ctx.params[0] ?? '');
  if (!e) throw notFound();
  if (!canSee(me, e)) throw cannotView();
  return { status: 200, json: { resource: eventJson(s, e) } };
}

export function listInvitees(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, SCOPE);
  const e = s.events.get(ctx.params[0] ?? '');
  if (!e) throw notFound();
  if (!canSee(me, e)) throw cannotView();
  const q = ctx.query;
  const count = parseCount(q.get('count'));
  const sort = q.get('sort') ?? 'created_at:asc';
  const status = q.get('status');
  const email = q.get('email')?.toLowerCase() ?? null;
  if (sort !== 'created_at:asc' && sort !== 'created_at:desc') throw invalidArgument([{ parameter: 'sort', message: 'is invalid' }]);
  const desc = sort.endsWith(':desc');
  const list = e.invitees
    .map((id) => s.invitees.get(id)!)
    .filter((i) => (!status || i.status === status) && (!email || i.email === email))
    .sort((a, b) => (a.createdAt - b.createdAt || (a.uuid < b.uuid ? -1 : 1)) * (desc ? -1 : 1));
  const page = paginate(list, (i) => [i.createdAt, i.uuid], desc, count, q.get('page_token') ?? undefined);
  return {
    status: 200,
    json: {
      collection: page.items.map((i) => inviteeJson(s, i, false)),
      pagination: pagination(s.baseUrl, `/scheduled_events/${e.uuid}/invitees`, q, count, page.items.length, page.next, page.prev),
    },
  };
}

export function getInviteeApi(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, SCOPE);
  const e = s.events.get(ctx.params[0] ?? '');
  const i = s.invitees.get(ctx.params[1] ?? '');
  if (!e || !i || i.eventUuid !== e.uuid) throw notFound();
  if (!canSee(me, e)) throw cannotView();
  return { status: 200, json: { resource: inviteeJson(s, i, false) } };
}

export function getEventView(s: SandboxState, uri: string): Record<string, unknown> | undefined {
  const e = s.events.get(lastSegment(uri));
  return e ? eventJson(s, e) : undefined;
}

export function getInviteeView(s: SandboxState, uri: string): Record<string, unknown> | undefined {
  const i = s.invitees.get(lastSegment(uri));
  return i ? inviteeJson(s, i, false) : undefined;
}
