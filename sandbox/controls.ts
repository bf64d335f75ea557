/**
 * JSON controls under /__sandbox, so a browser settings page (or curl) can drive the same
 * sandbox tests drive in-process.
 */
import { PLAN_LIMITS, type Ctx } from './records.js';
import { route, type Route } from './router.js';
import type { SandboxState } from './state.js';
import type { FaultSpec, Sandbox, UserPlan, UserRole } from './types.js';
import type { Reply } from './util.js';

export function controlRoutes(sb: () => Sandbox, state: SandboxState): Route[] {
  const body = (c: Ctx): Record<string, unknown> => {
    if (!c.body.length) return {};
    const v: unknown = JSON.parse(c.body.toString('utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('body must be a JSON object');
    return v as Record<string, unknown>;
  };
  const str = (o: Record<string, unknown>, k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || !v) throw new Error(`${k} (string) is required`);
    return v;
  };
  const ok = (json: unknown): Reply => ({ status: 200, json });
  const role = (v: unknown): UserRole | undefined => (v === 'user' || v === 'admin' || v === 'owner' ? v : undefined);
  const plan = (v: unknown): UserPlan | undefined => (v === 'free' || v === 'paid' ? v : undefined);
  const rateLimits = () => ({ api: state.apiLimit, plans: PLAN_LIMITS, defaultPlan: state.defaultPlan, token: state.tokenLimit });
  return [
    route('GET', '/__sandbox/state', () =>
      ok({
        baseUrl: sb().baseUrl,
        clientId: sb().clientId,
        now: new Date(sb().now()).toISOString(),
        autoApprove: state.autoApprove,
        signingMode: state.signingMode,
        rateLimits: rateLimits(),
        declinedScopes: state.declinedScopes,
        quirks: state.quirks,
        users: sb().users(),
        webhooks: sb().webhooks(),
        deliveries: sb().deliveries().length,
        dropDeliveries: state.dropDeliveries,
        droppedDeliveries: state.droppedDeliveries,
        pendingDeliveries: sb().pendingDeliveries(),
      }),
    ),
    route('GET', '/__sandbox/users', () => ok(sb().users())),
    route('POST', '/__sandbox/users', (c) => {
      const b = body(c);
      const r = role(b.role);
      const p = plan(b.plan);
      return ok(
        sb().createUser({
          email: str(b, 'email'),
          ...(typeof b.name === 'string' ? { name: b.name } : {}),
          ...(typeof b.organization === 'string' ? { organization: b.organization } : {}),
          ...(r ? { role: r } : {}),
          ...(p ? { plan: p } : {}),
        }),
      );
    }),
    route('POST', '/__sandbox/users/update', (c) => {
      const b = body(c);
      const uri = str(b, 'userUri');
      const r = role(b.role);
      const p = plan(b.plan);
      if (b.role !== undefined && !r) throw new Error('role must be user, admin or owner');
      if (b.plan !== undefined && !p) throw new Error('plan must be free or paid');
      if (b.organization !== undefined) {
        if (typeof b.organization !== 'string') throw new Error('organization must be a URI, or "new"');
        sb().moveUser(uri, { ...(b.organization === 'new' ? {} : { organization: b.organization }), ...(r ? { role: r } : {}) });
      } else if (r) sb().setUserRole(uri, r);
      if (p) sb().setUserPlan(uri, p);
      return ok(sb().users().find((u) => u.uri === uri));
    }),
    route('POST', '/__sandbox/approve', (c) => {
      const b = body(c);
      const decline = Array.isArray(b.decline) ? b.decline.filter((x): x is string => typeof x === 'string') : undefined;
      return ok({ redirect: sb().approve(str(b, 'authorizeUrl'), { ...(typeof b.email === 'string' ? { email: b.email } : {}), ...(decline ? { decline } : {}) }) });
    }),
    route('POST', '/__sandbox/deny', (c) => ok({ redirect: sb().deny(str(body(c), 'authorizeUrl')) })),
    route('POST', '/__sandbox/book', async (c) => {
      const b = body(c);
      return ok(
        await sb().book({
          userUri: typeof b.userUri === 'string' ? b.userUri : sb().defaultUser.uri,
          invitees: Array.isArray(b.invitees) ? (b.invitees as { email: string; name?: string }[]) : [{ email: 'guest@example.test', name: 'Guest' }],
          ...(typeof b.startTime === 'string' || typeof b.startTime === 'number' ? { startTime: b.startTime } : {}),
          ...(typeof b.durationMin === 'number' ? { durationMin: b.durationMin } : {}),
          ...(typeof b.name === 'string' ? { name: b.name } : {}),
        }),
      );
    }),
    route('POST', '/__sandbox/cancel', async (c) => {
      const b = body(c);
      return ok(await sb().cancel(str(b, 'uri'), { ...(typeof b.reason === 'string' ? { reason: b.reason } : {}), ...(typeof b.canceledBy === 'string' ? { canceledBy: b.canceledBy } : {}) }));
    }),
    route('POST', '/__sandbox/reschedule', async (c) => {
      const b = body(c);
      const t = b.newStartTime;
      if (typeof t !== 'string' && typeof t !== 'number') throw new Error('newStartTime is required');
      return ok(await sb().reschedule(str(b, 'inviteeUri'), t));
    }),
    route('POST', '/__sandbox/no-show', async (c) => ok(await sb().markNoShow(str(body(c), 'inviteeUri')))),
    route('POST', '/__sandbox/no-show/delete', async (c) => ok(await sb().unmarkNoShow(str(body(c), 'inviteeUri')))),
    route('POST', '/__sandbox/seed', (c) => {
      const b = body(c);
      const n = Number(b.n ?? 0);
      const uris = sb().seedEvents(typeof b.userUri === 'string' ? b.userUri : sb().defaultUser.uri, n, typeof b.startFrom === 'string' || typeof b.startFrom === 'number' ? { startFrom: b.startFrom } : {});
      return ok({ created: uris.length });
    }),
    route('POST', '/__sandbox/advance', (c) => {
      sb().advance(Number(body(c).ms ?? 0));
      return ok({ now: new Date(sb().now()).toISOString() });
    }),
    route('GET', '/__sandbox/webhooks', (c) => ok(sb().webhooks(c.query.get('user') ?? undefined))),
    route('POST', '/__sandbox/webhooks/disable', (c) => {
      sb().disableWebhook(str(body(c), 'uri'));
      return ok({ ok: true });
    }),
    route('POST', '/__sandbox/webhooks/delete', (c) => {
      sb().deleteWebhookAtCalendly(str(body(c), 'uri'));
      return ok({ ok: true });
    }),
    route('GET', '/__sandbox/deliveries', () => ok(sb().deliveries())),
    route('POST', '/__sandbox/deliveries/retry', async () => ok(await sb().retryFailedDeliveries())),
    route('POST', '/__sandbox/deliveries/advance', async (c) => ok(await sb().advanceDeliveries(Number(body(c).ms ?? 0)))),
    route('GET', '/__sandbox/calls', () => ok(sb().calls())),
    route('DELETE', '/__sandbox/calls', () => {
      sb().resetCalls();
      return ok({ ok: true });
    }),
    route('POST', '/__sandbox/faults', (c) => {
      const b = body(c);
      const path = typeof b.pathRegex === 'string' ? new RegExp(b.pathRegex) : str(b, 'path');
      sb().inject({ ...(b as Partial<FaultSpec>), path });
      return ok({ ok: true });
    }),
    route('DELETE', '/__sandbox/faults', () => {
      sb().clearFaults();
      return ok({ ok: true });
    }),
    route('POST', '/__sandbox/tokens/expire', (c) => {
      sb().expireAccessTokens(str(body(c), 'userUri'));
      return ok({ ok: true });
    }),
    route('POST', '/__sandbox/tokens/revoke', (c) => {
      sb().revokeAllTokens(str(body(c), 'userUri'));
      return ok({ ok: true });
    }),
    route('POST', '/__sandbox/settings', (c) => {
      const b = body(c);
      if (typeof b.autoApprove === 'boolean') sb().setAutoApprove(b.autoApprove);
      if (typeof b.dropDeliveries === 'boolean') sb().setDropDeliveries(b.dropDeliveries);
      if (b.signingMode === 'auto' || b.signingMode === 'app' || b.signingMode === 'hook') sb().setSigningMode(b.signingMode);
      const api = typeof b.apiRateLimit === 'number' || b.apiRateLimit === null ? b.apiRateLimit : undefined;
      if (api !== undefined || typeof b.tokenRateLimit === 'number') {
        sb().setRateLimits({ ...(api !== undefined ? { api } : {}), ...(typeof b.tokenRateLimit === 'number' ? { token: b.tokenRateLimit } : {}) });
      }
      if (Array.isArray(b.declinedScopes)) sb().setDeclinedScopes(b.declinedScopes.filter((x): x is string => typeof x === 'string'));
      if (b.quirks && typeof b.quirks === 'object') sb().setQuirks(b.quirks as Record<string, never>);
      return ok({ autoApprove: state.autoApprove, dropDeliveries: state.dropDeliveries, signingMode: state.signingMode, quirks: state.quirks, rateLimits: rateLimits(), declinedScopes: state.declinedScopes });
    }),
  ];
}
