/**
 * Webhook subscriptions: POST/GET/DELETE /webhook_subscriptions (validation, 409 on a duplicate
 * callback URL, pagination) and the controls that disable or delete one "at Calendly".
 */
import { authenticate, permissionDenied } from './api-auth.js';
import { VALID_EVENTS, type Ctx, type HookRec } from './records.js';
import type { SandboxState } from './state.js';
import type { WebhookView } from './types.js';
import { apiError, invalidArgument, iso, lastSegment, notFound, opaque, paginate, pagination, parseCount, uuid, type Reply } from './util.js';

const forbidden = permissionDenied;

function hookJson(h: HookRec, withKey = false) {
  return {
    uri: h.uri,
    callback_url: h.callbackUrl,
    created_at: iso(h.createdAt),
    updated_at: iso(h.updatedAt),
    retry_started_at: h.retryStartedAt === null ? null : iso(h.retryStartedAt),
    state: h.state,
    events: [...h.events],
    scope: h.scope,
    organization: h.organization,
    user: h.user,
    group: h.group,
    creator: h.creator,
    ...(withKey ? { signing_key: h.signingKey } : {}),
  };
}

function jsonBody(ctx: Ctx): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(ctx.body.toString('utf8') || 'null');
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw invalidArgument([{ message: 'Request body must be a JSON object' }]);
  }
}

export function createWebhook(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, 'webhooks:write');
  const body = jsonBody(ctx);
  const details: { parameter: string; message: string }[] = [];
  const str = (k: string) => (typeof body[k] === 'string' && (body[k] as string).length > 0 ? (body[k] as string) : null);
  const url = str('url');
  if (body.url === undefined) details.push({ parameter: 'url', message: 'is missing' });
  else if (!url || !/^https?:\/\//.test(url) || !URL.canParse(url)) details.push({ parameter: 'url', message: 'must be a valid URL' });
  const events = body.events;
  if (events === undefined) details.push({ parameter: 'events', message: 'is missing' });
  else if (!Array.isArray(events) || events.length === 0 || events.some((e) => typeof e !== 'string')) details.push({ parameter: 'events', message: 'must be a non-empty array of event names' });
  else for (const e of events as string[]) if (!VALID_EVENTS.includes(e)) details.push({ parameter: 'events', message: `${e} is not a valid event` });
  const organization = str('organization');
  if (!organization) details.push({ parameter: 'organization', message: 'is missing' });
  const scope = str('scope');
  if (!scope) details.push({ parameter: 'scope', message: 'is missing' });
  else if (!['user', 'organization', 'group'].includes(scope)) details.push({ parameter: 'scope', message: 'must be one of: user, organization, group' });
  const user = str('user');
  if (scope === 'user' && !user) details.push({ parameter: 'user', message: 'is missing' });
  if (scope === 'group' && !str('group')) details.push({ parameter: 'group', message: 'is missing' });
  if (scope && scope !== 'organization' && Array.isArray(events) && events.includes('routing_form_submission.created')) {
    details.push({ parameter: 'events', message: 'routing_form_submission.created is only allowed for organization scope' });
  }
  if (body.signing_key !== undefined && typeof body.signing_key !== 'string') details.push({ parameter: 'signing_key', message: 'must be a string' });
  if (details.length) throw invalidArgument(details);
  if (organization !== me.organization || (scope === 'user' && user !== me.uri)) throw forbidden();
  // Organization-wide subscriptions need an admin or owner.
  if (scope === 'organization' && me.role === 'user') throw forbidden();
  if (scope === 'group') throw invalidArgument([{ parameter: 'group', message: 'is invalid' }]);
  if (s.quirks.conflictOnDuplicate) {
    for (const h of s.hooks.values()) {
      if (h.callbackUrl === url && h.scope === scope && h.organization === organization && (scope !== 'user' || h.user === user)) {
        throw apiError(409, 'Already Exists', 'Hook with this url already exists');
      }
    }
  }
  const id = uuid();
  const now = s.now();
  const given = typeof body.signing_key === 'string' && body.signing_key.length > 0;
  const h: HookRec = {
    uuid: id,
    uri: `${s.baseUrl}/webhook_subscriptions/${id}`,
    callbackUrl: url!,
    events: [...new Set(events as string[])],
    scope: scope as HookRec['scope'],
    organization: organization!,
    user: scope === 'user' ? user : null,
    group: null,
    creator: me.uri,
    signingKey: given ? (body.signing_key as string) : opaque(32),
    signingKeyGiven: given,
    state: 'active',
    retryStartedAt: null,
    createdAt: now,
    updatedAt: now,
  };
  s.hooks.set(id, h);
  return { status: s.quirks.webhookCreateStatus, json: { resource: hookJson(h, s.quirks.returnSigningKey) } };
}

export function listWebhooks(s: SandboxState, ctx: Ctx): Reply {
  const me = authenticate(s, ctx, 'webhooks:read');
  const q = ctx.query;
  const details: { parameter: string; message: string }[] = [];
  const organization = q.get('organization');
  const scope = q.get('scope');
  const user = q.get('user');
  if (!organization) details.push({ parameter: 'organization', message: 'is missing' });
  if (!scope) details.push({ parameter: 'scope', message: 'is missing' });
  else if (!['user', 'organization', 'group'].includes(scope)) details.push({ parameter: 'scope', message: 'must be one of: user, organization, group' });
  if (scope === 'user' && !user) details.push({ parameter: 'user', message: 'is missing' });
  if (scope === 'group' && !q.get('group')) details.push({ parameter: 'group', message: 'is missing' });
  const sort = q.get('sort') ?? 'created_at:asc';
  if (!['created_at:asc', 'created_at:desc'].includes(sort)) details.push({ parameter: 'sort', message: 'is invalid' });
  const count = parseCount(q.get('count'));
  if (details.length) throw invalidArgument(details);
  if (organization !== me.organization || (scope === 'organization' && me.role === 'user')) throw forbidden();
  const desc = sort.endsWith(':desc');
  const list = [...s.hooks.values()]
    .filter((h) => h.organization === organization && h.scope === scope && (scope !== 'user' || h.user === user))
    .sort((a, b) => (a.createdAt - b.createdAt || (a.uuid < b.uuid ? -1 : 1)) * (desc ? -1 : 1));
  const page = paginate(list, (h) => [h.createdAt, h.uuid], desc, count, q.get('page_token') ?? undefined);
  return {
    status: 200,
    json: { collection: page.items.map((h) => hookJson(h)), pagination: pagination(s.baseUrl, '/webhook_subscriptions', q, count, page.items.length, page.next, page.prev) },
  };
}

function visibleHook(s: SandboxState, ctx: Ctx, scope: 'webhooks:read' | 'webhooks:write'): HookRec {
  const me = authenticate(s, ctx, scope);
  const h = s.hooks.get(ctx.params[0] ?? '');
  if (!h) throw notFound();
  if (h.organization !== me.organization) throw forbidden();
  return h;
}

export function getWebhook(s: SandboxState, ctx: Ctx): Reply {
  return { status: 200, json: { resource: hookJson(visibleHook(s, ctx, 'webhooks:read')) } };
}

export function deleteWebhook(s: SandboxState, ctx: Ctx): Reply {
  removeHook(s, visibleHook(s, ctx, 'webhooks:write'));
  return s.quirks.webhookDeleteStatus === 204 ? { status: 204 } : { status: 200, json: {} };
}

/** Deletes a subscription and drops what was waiting to be delivered to it. */
export function removeHook(s: SandboxState, h: HookRec): void {
  s.hooks.delete(h.uuid);
  s.pending = s.pending.filter((p) => p.hookUuid !== h.uuid);
}

export function webhookViews(s: SandboxState, userUri?: string): WebhookView[] {
  return [...s.hooks.values()]
    .filter((h) => !userUri || h.user === userUri || h.creator === userUri)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map((h) => ({
      uri: h.uri,
      uuid: h.uuid,
      callbackUrl: h.callbackUrl,
      state: h.state,
      events: [...h.events],
      scope: h.scope,
      organization: h.organization,
      user: h.user,
      creator: h.creator,
      signingKey: h.signingKey,
      signingKeyGiven: h.signingKeyGiven,
      retryStartedAt: h.retryStartedAt === null ? null : iso(h.retryStartedAt),
      createdAt: iso(h.createdAt),
    }));
}

function hookByUri(s: SandboxState, uri: string): HookRec {
  const h = s.hooks.get(lastSegment(uri));
  if (!h) throw new Error(`unknown webhook subscription: ${uri}`);
  return h;
}

export function disableWebhook(s: SandboxState, uri: string): void {
  const h = hookByUri(s, uri);
  h.state = 'disabled';
  h.updatedAt = s.now();
  s.pending = s.pending.filter((p) => p.hookUuid !== h.uuid);
}

/** Deletes a subscription at "Calendly" (as another admin or a user removal would). */
export function deleteWebhookAtCalendly(s: SandboxState, uri: string): void {
  removeHook(s, hookByUri(s, uri));
}
