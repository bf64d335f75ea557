/**
 * The sandbox's HTTP server: api.calendly.com and auth.calendly.com routes (counted, rate
 * limited, faultable, with X-RateLimit-* on every answer) and the /__sandbox control routes
 * (CORS, never counted or faulted).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { anonRate } from './api-auth.js';
import { authorizeGet, authorizePost } from './authorize.js';
import { defaultFaultBody, lowerKeys, type Faults } from './faults.js';
import type { Ctx } from './records.js';
import { match, route, type Route } from './router.js';
import { getEventApi, getInviteeApi, listEvents, listInvitees } from './scheduled-events.js';
import type { SandboxState } from './state.js';
import { createWebhook, deleteWebhook, getWebhook, listWebhooks } from './subscriptions.js';
import { introspect, revoke, token } from './tokens.js';
import { getMe, getUser } from './users.js';
import { ReplyError, sleep, type Reply } from './util.js';

export function apiRoutes(s: SandboxState): Route[] {
  return [
    route('GET', '/oauth/authorize', (c) => authorizeGet(s, c)),
    route('POST', '/oauth/authorize', (c) => authorizePost(s, c)),
    route('POST', '/oauth/token', (c) => token(s, c)),
    route('POST', '/oauth/revoke', (c) => revoke(s, c)),
    route('POST', '/oauth/introspect', (c) => introspect(s, c)),
    route('GET', '/users/me', (c) => getMe(s, c)),
    route('GET', '/users/{uuid}', (c) => getUser(s, c)),
    route('POST', '/webhook_subscriptions', (c) => createWebhook(s, c)),
    route('GET', '/webhook_subscriptions', (c) => listWebhooks(s, c)),
    route('GET', '/webhook_subscriptions/{uuid}', (c) => getWebhook(s, c)),
    route('DELETE', '/webhook_subscriptions/{uuid}', (c) => deleteWebhook(s, c)),
    route('GET', '/scheduled_events', (c) => listEvents(s, c)),
    route('GET', '/scheduled_events/{uuid}', (c) => getEventApi(s, c)),
    route('GET', '/scheduled_events/{uuid}/invitees', (c) => listInvitees(s, c)),
    route('GET', '/scheduled_events/{uuid}/invitees/{invitee_uuid}', (c) => getInviteeApi(s, c)),
  ];
}

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'content-type',
};

export interface SandboxServer {
  server: Server;
  close(): Promise<void>;
}

export function createSandboxServer(s: SandboxState, deps: { api: Route[]; control: Route[]; faults: Faults; calls: Record<string, number> }): SandboxServer {
  const { api, control, faults, calls } = deps;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ title: 'Internal Server Error', message: (err as Error).message }));
      } else res.destroy();
    });
  });
  server.on('connection', (sock: Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
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
      const r = match(control, ctx);
      if (!r) return write(res, { status: 404, json: { title: 'Resource Not Found', message: `no sandbox control ${method} ${path}` } }, null);
      try {
        const reply = await r.handler(ctx);
        return write(res, { ...reply, headers: { ...cors, ...reply.headers } }, null);
      } catch (err) {
        if (err instanceof ReplyError) return write(res, err.reply, null);
        return write(res, { status: 400, headers: cors, json: { title: 'Sandbox Control Error', message: (err as Error).message } }, null);
      }
    }

    const r = match(api, ctx);
    const template = r ? `${method} ${r.template}` : `${method} ${path}`;
    calls[template] = (calls[template] ?? 0) + 1;
    const fault = faults.take(method, path, r?.template);
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
      const rate = ctx.rate ?? anonRate(s);
      headers['x-ratelimit-limit'] = String(rate.limit);
      headers['x-ratelimit-remaining'] = String(rate.remaining);
      headers['x-ratelimit-reset'] = String(rate.resetSec);
      if (reply.status === 429 && s.quirks.retryAfterHeader) headers['retry-after'] = String(rate.resetSec);
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

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const sock of sockets) sock.destroy();
      }),
  };
}
