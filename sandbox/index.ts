/**
 * Calendly sandbox: one node:http server playing both auth.calendly.com and api.calendly.com
 * (OAuth, /users/me, webhook subscriptions, scheduled events, invitees, signed webhook
 * deliveries), with controls for tests and for the local settings page. See sandbox/README.md.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseSandboxSnapshot, SandboxSnapshotError } from './snapshot.js';
import { SandboxState, type Ctx } from './state.js';
import type { FaultSpec, Sandbox, SandboxOptions } from './types.js';
import { ReplyError, sleep, type Reply } from './util.js';

export * from './types.js';
export { ACCESS_TOKEN_TTL_S, CODE_TTL_MS, DISABLE_AFTER_MS, VALID_EVENTS } from './state.js';
export { parseSandboxSnapshot, SANDBOX_SNAPSHOT_VERSION, SandboxSnapshotError } from './snapshot.js';

type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

interface Route {
  method: string;
  template: string;
  re: RegExp;
  handler: Handler;
}

const route = (method: string, template: string, handler: Handler): Route => ({
  method,
  template,
  re: new RegExp(`^${template.replace(/\{[a-z_]+\}/g, '([^/]+)')}/?$`),
  handler,
});

interface ActiveFault extends FaultSpec {
  remaining: number;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  // Checked before listening, so a bad snapshot costs no port (and a typed caller's object is
  // still checked: it may have come from a file).
  const initial = opts.initialState === undefined ? undefined : parseSandboxSnapshot(opts.initialState);
  if (initial && opts.clientId !== undefined && opts.clientId !== initial.app.clientId) {
    throw new SandboxSnapshotError('the sandbox snapshot belongs to another OAuth app (client id differs); its tokens would mean nothing here');
  }
  const state = new SandboxState(opts);
  const calls: Record<string, number> = {};
  let faults: ActiveFault[] = [];
  const sockets = new Set<Socket>();

  const api: Route[] = [
    route('GET', '/oauth/authorize', (c) => state.authorizeGet(c)),
    route('POST', '/oauth/authorize', (c) => state.authorizePost(c)),
    route('POST', '/oauth/token', (c) => state.token(c)),
    route('POST', '/oauth/revoke', (c) => state.revoke(c)),
    route('POST', '/oauth/introspect', (c) => state.introspect(c)),
    route('GET', '/users/me', (c) => state.getMe(c)),
    route('GET', '/users/{uuid}', (c) => state.getUser(c)),
    route('POST', '/webhook_subscriptions', (c) => state.createWebhook(c)),
    route('GET', '/webhook_subscriptions', (c) => state.listWebhooks(c)),
    route('GET', '/webhook_subscriptions/{uuid}', (c) => state.getWebhook(c)),
    route('DELETE', '/webhook_subscriptions/{uuid}', (c) => state.deleteWebhook(c)),
    route('GET', '/scheduled_events', (c) => state.listEvents(c)),
    route('GET', '/scheduled_events/{uuid}', (c) => state.getEventApi(c)),
    route('GET', '/scheduled_events/{uuid}/invitees', (c) => state.listInvitees(c)),
    route('GET', '/scheduled_events/{uuid}/invitees/{invitee_uuid}', (c) => state.getInviteeApi(c)),
  ];

  const sandbox = {} as Sandbox;
  const control = controlRoutes(() => sandbox, state);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ title: 'Internal Server Error', message: (err as Error).message }));
      } else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const ctx: Ctx = { method, path, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks), params: [] };

    if (path.startsWith('/__sandbox')) {
      if (method === 'OPTIONS') return write(res, { status: 204, headers: cors }, null);
      const r = control.find((x) => x.method === method && x.re.test(path));
      if (!r) return write(res, { status: 404, json: { title: 'Resource Not Found', message: `no sandbox control ${method} ${path}` } }, null);
      ctx.params = (r.re.exec(path) ?? []).slice(1).map(decodeURIComponent);
      try {
        const reply = await r.handler(ctx);
        return write(res, { ...reply, headers: { ...cors, ...reply.headers } }, null);
      } catch (err) {
        if (err instanceof ReplyError) return write(res, err.reply, null);
        return write(res, { status: 400, headers: cors, json: { title: 'Sandbox Control Error', message: (err as Error).message } }, null);
      }
    }

    const r = api.find((x) => x.method === method && x.re.test(path));
    const template = r ? `${method} ${r.template}` : `${method} ${path}`;
    calls[template] = (calls[template] ?? 0) + 1;
    const fault = takeFault(method, path, r?.template);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.resetConnection) {
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      const body = fault.body !== undefined ? fault.body : defaultFaultBody(fault.status);
      const headers: Record<string, string> = { ...(fault.status === 429 ? { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' } : {}), ...lowerKeys(fault.headers ?? {}) };
      return write(res, { status: fault.status, headers, ...(body === null ? {} : typeof body === 'string' ? { text: body } : { json: body }) }, ctx, fault.stallBodyMs);
    }
    let reply: Reply;
    if (!r) reply = { status: 404, json: { title: 'Resource Not Found', message: 'The server could not find the requested resource.' } };
    else {
      ctx.params = (r.re.exec(path) ?? []).slice(1).map(decodeURIComponent);
      try {
        reply = await r.handler(ctx);
      } catch (err) {
        if (!(err instanceof ReplyError)) throw err;
        reply = err.reply;
      }
    }
    if (fault?.loseResponse) {
      req.socket.destroy();
      return;
    }
    await write(res, reply, ctx, fault?.stallBodyMs);
  }

  async function write(res: ServerResponse, reply: Reply, ctx: Ctx | null, stallBodyMs?: number): Promise<void> {
    const headers: Record<string, string> = {};
    if (ctx) {
      const rate = ctx.rate ?? state.anonRate();
      headers['x-ratelimit-limit'] = String(rate.limit);
      headers['x-ratelimit-remaining'] = String(rate.remaining);
      headers['x-ratelimit-reset'] = String(rate.resetSec);
      if (reply.status === 429 && state.quirks.retryAfterHeader) headers['retry-after'] = String(rate.resetSec);
    }
    Object.assign(headers, lowerKeys(reply.headers ?? {}));
    let body: string | undefined;
    if (reply.json !== undefined) {
      body = JSON.stringify(reply.json);
      headers['content-type'] ??= 'application/json; charset=utf-8';
    } else if (reply.text !== undefined) {
      body = reply.text;
      headers['content-type'] ??= reply.contentType ?? 'text/plain; charset=utf-8';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(reply.status, headers);
    if (stallBodyMs && body) {
      const buf = Buffer.from(body);
      const half = Math.floor(buf.length / 2);
      res.write(buf.subarray(0, half));
      await sleep(stallBodyMs);
      if (!res.destroyed) res.end(buf.subarray(half));
      return;
    }
    res.end(body);
  }

  function takeFault(method: string, path: string, template: string | undefined): ActiveFault | undefined {
    const f = faults.find(
      (x) =>
        x.remaining > 0 &&
        (!x.method || x.method.toUpperCase() === method) &&
        (typeof x.path === 'string' ? x.path === path || x.path === template : x.path.test(path)),
    );
    if (f) {
      f.remaining -= 1;
      faults = faults.filter((x) => x.remaining > 0);
    }
    return f;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  state.baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;
  if (initial) state.restore(initial);
  // Idempotent by email: after a restore this is the demo user that was saved.
  const defaultUser = state.createUser({ email: opts.defaultUserEmail ?? 'demo@sandbox.test', name: 'Demo User' });

  Object.assign(sandbox, {
    baseUrl: state.baseUrl,
    clientId: state.clientId,
    clientSecret: state.clientSecret,
    webhookSigningKey: state.webhookSigningKey,
    defaultUser,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    snapshot: () => state.snapshot(),
    now: () => state.now(),
    advance: (ms: number) => state.advance(ms),
    createUser: (input: { email: string; name?: string; organization?: string }) => state.createUser(input),
    users: () => state.listUsers(),
    userByEmail: (email: string) => state.userByEmail(email),
    approve: (authorizeUrl: string, o: { email?: string } = {}) => state.decide(new URL(authorizeUrl).searchParams, 'allow', o.email),
    deny: (authorizeUrl: string) => state.decide(new URL(authorizeUrl).searchParams, 'deny'),
    setAutoApprove: (on: boolean) => {
      state.autoApprove = on;
    },
    expireAccessTokens: (u: string) => state.expireAccessTokens(u),
    revokeAllTokens: (u: string) => state.revokeAllTokens(u),
    book: (input) => state.book(input),
    cancel: (uri, o) => state.cancel(uri, o),
    reschedule: (uri, t) => state.reschedule(uri, t),
    markNoShow: (uri) => state.markNoShow(uri),
    unmarkNoShow: (uri) => state.unmarkNoShow(uri),
    seedEvents: (u, n, o) => state.seedEvents(u, n, o),
    getEvent: (uri) => state.getEventView(uri),
    getInvitee: (uri) => state.getInviteeView(uri),
    webhooks: (u) => state.webhookViews(u),
    disableWebhook: (uri) => state.disableWebhook(uri),
    deleteWebhookAtCalendly: (uri) => state.deleteWebhookAtCalendly(uri),
    setSigningMode: (mode) => {
      state.signingMode = mode;
    },
    get signingMode() {
      return state.signingMode;
    },
    deliveries: (f) => state.deliveryLog(f),
    retryFailedDeliveries: () => state.retryFailedDeliveries(),
    pendingDeliveries: () => state.pendingCount(),
    inject: (f: FaultSpec) => {
      faults.push({ ...f, remaining: f.times ?? 1 });
    },
    clearFaults: () => {
      faults = [];
    },
    calls: () => ({ ...calls }),
    resetCalls: () => {
      for (const k of Object.keys(calls)) delete calls[k];
    },
    setRateLimits: (l) => {
      if (l.api !== undefined) state.apiLimit = l.api;
      if (l.token !== undefined) state.tokenLimit = l.token;
    },
    resetRateLimits: () => {
      state.apiWindows.clear();
      state.tokenWindows.clear();
    },
    setQuirks: (q) => {
      state.quirks = { ...state.quirks, ...q };
    },
    get quirks() {
      return { ...state.quirks };
    },
  } satisfies Omit<Sandbox, never>);
  return sandbox;
}

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function defaultFaultBody(status: number): unknown {
  if (status === 429) return { title: 'Too Many Requests', message: 'You have exceeded the rate limit.' };
  if (status >= 500) return { title: 'Internal Server Error', message: 'The server encountered an unexpected condition that prevented it from fulfilling the request.' };
  if (status === 401) return { title: 'Unauthenticated', message: 'The access token is invalid' };
  if (status === 404) return { title: 'Resource Not Found', message: 'The server could not find the requested resource.' };
  if (status === 409) return { title: 'Already Exists', message: 'Hook with this url already exists' };
  if (status === 204) return null;
  return { title: 'Error', message: `Injected ${status}` };
}

/** JSON controls under /__sandbox so a browser settings page (or curl) can drive the sandbox. */
function controlRoutes(sb: () => Sandbox, state: SandboxState): Route[] {
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
  return [
    route('GET', '/__sandbox/state', () =>
      ok({
        baseUrl: sb().baseUrl,
        clientId: sb().clientId,
        now: new Date(sb().now()).toISOString(),
        autoApprove: state.autoApprove,
        signingMode: state.signingMode,
        rateLimits: { api: state.apiLimit, token: state.tokenLimit },
        quirks: state.quirks,
        users: sb().users(),
        webhooks: sb().webhooks(),
        deliveries: sb().deliveries().length,
        pendingDeliveries: sb().pendingDeliveries(),
      }),
    ),
    route('GET', '/__sandbox/users', () => ok(sb().users())),
    route('POST', '/__sandbox/users', (c) => {
      const b = body(c);
      return ok(sb().createUser({ email: str(b, 'email'), ...(typeof b.name === 'string' ? { name: b.name } : {}), ...(typeof b.organization === 'string' ? { organization: b.organization } : {}) }));
    }),
    route('POST', '/__sandbox/approve', (c) => {
      const b = body(c);
      return ok({ redirect: sb().approve(str(b, 'authorizeUrl'), typeof b.email === 'string' ? { email: b.email } : {}) });
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
      if (b.signingMode === 'app' || b.signingMode === 'hook') sb().setSigningMode(b.signingMode);
      if (typeof b.apiRateLimit === 'number' || typeof b.tokenRateLimit === 'number') {
        sb().setRateLimits({ ...(typeof b.apiRateLimit === 'number' ? { api: b.apiRateLimit } : {}), ...(typeof b.tokenRateLimit === 'number' ? { token: b.tokenRateLimit } : {}) });
      }
      if (b.quirks && typeof b.quirks === 'object') sb().setQuirks(b.quirks as Record<string, never>);
      return ok({ autoApprove: state.autoApprove, signingMode: state.signingMode, quirks: state.quirks, rateLimits: { api: state.apiLimit, token: state.tokenLimit } });
    }),
  ];
}
