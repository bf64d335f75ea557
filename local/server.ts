/**
 * The local HTTP front door: API Gateway (HTTP API) in front of the handlers, the JWT
 * authorizer, the local-only `/dev/*` routes, the sandbox proxy and the settings page.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { ROUTES } from '../functions/routes.js';
import { logger } from '../functions/shared/logger.js';
import {
  buildHttpEvent,
  matchRoute,
  MAX_REQUEST_BYTES,
  newRequestId,
  writeGatewayMessage,
  writeInternalError,
  writeLambdaResult,
} from './apigw.js';
import type { LocalAuth } from './auth.js';
import { isCorsHeader, type Cors } from './cors.js';
import { CursorError, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, putEvents, type LocalEventBus } from './events.js';
import type { HandlerRegistry } from './handlers.js';
import { functionTimeoutMs, lambdaContext } from './lambda-context.js';

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

export interface DevApi {
  runHealthCheck(): Promise<unknown>;
  config(): Record<string, unknown>;
  /** The in-process event bus (`Meeting Changed` events). */
  events: LocalEventBus;
}

export interface FrontDoorDeps {
  auth: LocalAuth;
  /** The API's CORS configuration (ALLOWED_ORIGINS). */
  cors: Cors;
  handlers: HandlerRegistry;
  dev: DevApi;
  /** The embedded sandbox's base URL when it is in use. */
  sandboxBaseUrl?: () => string | undefined;
  /** Resolves when the handlers' environment is set; requests wait for it. */
  ready: Promise<void>;
  /** API Gateway's integration timeout (30 s for HTTP APIs). */
  integrationTimeoutMs?: number;
  /** Counts work the shutdown must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
}

class BodyTooLarge extends Error {}

const INTEGRATION_TIMEOUT = Symbol('integration timeout');

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const sessionSchema = z
  .object({
    userId: z
      .string({ message: 'userId must be a string' })
      .min(1, 'userId must not be empty')
      .max(128, 'userId must be at most 128 characters')
      .regex(/^[A-Za-z0-9._:@|+-]+$/, 'userId may contain only letters, digits and . _ : @ | + -'),
  })
  .strict();

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export function createFrontDoor(deps: FrontDoorDeps) {
  async function handleApi(req: IncomingMessage, res: ServerResponse, match: NonNullable<ReturnType<typeof matchRoute>>): Promise<void> {
    const requestId = newRequestId();
    // Every answer of the API, the gateway's own included, carries them for a listed origin.
    for (const [k, v] of Object.entries(deps.cors.responseHeaders(req))) res.setHeader(k, v);
    let body: Buffer;
    try {
      body = await readBody(req, MAX_REQUEST_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        return writeGatewayMessage(res, 413, 'Request Entity Too Large', { 'apigw-requestid': requestId });
      }
      throw err;
    }
    let authorizer;
    if (match.route.auth) {
      authorizer = await deps.auth.authorize(req.headers.authorization);
      if (!authorizer) {
        return writeGatewayMessage(res, 401, 'Unauthorized', {
          'apigw-requestid': requestId,
          'www-authenticate': 'Bearer scope="" error="invalid_token" error_description="the token is missing, invalid or expired"',
        });
      }
    }
    const event = buildHttpEvent({ req, body, match, requestId, authorizer });
    let result: unknown;
    try {
      const handler = await deps.handlers.load(match.route.handler);
      // Not tracked by itself: shutdown waits for the request (bounded by the timeouts below),
      // not for a function that overran them, as Lambda would have stopped it.
      const invocation = Promise.resolve().then(() => handler(event, lambdaContext(match.route.handler)));
      // The function's own timeout is a function error (500); API Gateway gives up on the
      // integration after 30 s (503). Locally the function runs on; its answer is dropped.
      const functionMs = functionTimeoutMs(match.route.handler);
      const integrationMs = deps.integrationTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<typeof INTEGRATION_TIMEOUT>((resolve, reject) => {
        timer =
          functionMs < integrationMs
            ? setTimeout(() => reject(new Error(`Task timed out after ${functionMs / 1000} seconds`)), functionMs)
            : setTimeout(() => resolve(INTEGRATION_TIMEOUT), integrationMs);
      });
      result = await Promise.race([invocation, timedOut]).finally(() => clearTimeout(timer));
      if (result === INTEGRATION_TIMEOUT) {
        logger.error('handler did not answer within the API Gateway integration timeout', { handler: match.route.handler, requestId });
        return writeGatewayMessage(res, 503, 'Service Unavailable', { 'apigw-requestid': requestId });
      }
    } catch (err) {
      // Lambda function error: API Gateway answers 500 with its own body.
      logger.error('handler threw', { handler: match.route.handler, requestId, error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
      res.setHeader('apigw-requestid', requestId);
      return writeInternalError(res);
    }
    writeLambdaResult(res, result, requestId, deps.cors.enabled ? isCorsHeader : undefined);
  }

  async function handleDev(req: IncomingMessage, res: ServerResponse, path: string, url: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    if (path === '/dev/events' && method === 'GET') {
      const query = new URL(url, 'http://local').searchParams;
      const after = query.get('after') ?? undefined;
      const limitText = query.get('limit');
      const limit = limitText === null ? EVENTS_PAGE_DEFAULT : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > EVENTS_PAGE_MAX) {
        sendJson(res, 400, { error: 'invalid_limit', message: `limit must be an integer from 1 to ${EVENTS_PAGE_MAX}.` });
        return true;
      }
      try {
        sendJson(res, 200, deps.dev.events.page(after, limit));
      } catch (err) {
        if (!(err instanceof CursorError)) throw err;
        sendJson(res, 400, { error: 'invalid_cursor', message: err.message });
      }
      return true;
    }
    // The handlers' EventBridge adapter, pointed here by EVENTS_ENDPOINT, speaks PutEvents.
    if ((path === '/dev/eventbridge' || path === '/dev/eventbridge/') && method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, 1024 * 1024);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          sendJson(res, 413, { __type: 'ValidationException', message: 'Request too large.' });
          return true;
        }
        throw err;
      }
      if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
        sendJson(res, 400, { __type: 'UnknownOperationException', message: 'Only AWSEvents.PutEvents is served locally.' });
        return true;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        sendJson(res, 400, { __type: 'SerializationException', message: 'The body is not JSON.' });
        return true;
      }
      const out = putEvents(deps.dev.events, body);
      res.setHeader('x-amzn-requestid', newRequestId());
      sendJson(res, out.status, out.body);
      return true;
    }
    if (path === '/dev/session' && method === 'POST') {
      let raw: Buffer;
      try {
        raw = await readBody(req, 16 * 1024);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          sendJson(res, 413, { error: 'payload_too_large', message: 'The request body is larger than 16 KiB.' });
          return true;
        }
        throw err;
      }
      let data: unknown;
      try {
        data = JSON.parse(raw.toString('utf8') || 'null');
      } catch {
        sendJson(res, 400, { error: 'invalid_json', message: 'The request body is not valid JSON.' });
        return true;
      }
      const parsed = sessionSchema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const message = data === null || typeof data !== 'object' ? 'The body must be a JSON object {"userId": "..."}.' : (issue?.message ?? 'invalid body');
        sendJson(res, 400, { error: 'invalid_body', message });
        return true;
      }
      sendJson(res, 200, { token: await deps.auth.mintToken(parsed.data.userId) });
      return true;
    }
    if (path === '/dev/health-check' && method === 'POST') {
      await readBody(req, 16 * 1024).catch(() => Buffer.alloc(0));
      try {
        sendJson(res, 200, await deps.dev.runHealthCheck());
      } catch (err) {
        logger.error('local health check failed', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
        sendJson(res, 500, { error: 'health_check_failed', message: 'The health-check cycle failed; see the server log.' });
      }
      return true;
    }
    if (path === '/dev/config' && method === 'GET') {
      sendJson(res, 200, deps.dev.config());
      return true;
    }
    if (path === '/dev/jwks.json' && method === 'GET') {
      sendJson(res, 200, deps.auth.jwks);
      return true;
    }
    return false;
  }

  function proxySandbox(req: IncomingMessage, res: ServerResponse, url: string): void {
    const base = deps.sandboxBaseUrl?.();
    if (!base) return sendJson(res, 503, { error: 'sandbox_unavailable', message: 'The Calendly sandbox is not running in this runtime.' });
    // The sandbox serves its controls under /__sandbox itself: the path is passed on as is.
    const target = new URL(url, `${base.replace(/\/+$/, '')}/`);
    const headers = { ...req.headers, host: target.host };
    const upstream = httpRequest(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) sendJson(res, 502, { error: 'sandbox_unreachable', message: 'The Calendly sandbox did not answer.' });
      else res.destroy();
    });
    req.pipe(upstream);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      return false;
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = normalize(join(PUBLIC_DIR, rel));
    if (!file.startsWith(PUBLIC_DIR.endsWith(sep) ? PUBLIC_DIR : PUBLIC_DIR + sep)) return false;
    try {
      const s = await stat(file);
      if (!s.isFile()) return false;
      res.statusCode = 200;
      res.setHeader('content-type', CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
      res.setHeader('content-length', s.size);
      res.setHeader('cache-control', 'no-cache');
      if (req.method === 'HEAD') {
        res.end();
        return true;
      }
      await new Promise<void>((resolve, reject) => {
        const stream = createReadStream(file);
        stream.on('error', reject);
        res.on('close', () => resolve());
        stream.pipe(res);
      });
      return true;
    } catch {
      return false;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await deps.ready;
    const url = req.url ?? '/';
    const path = url.split('?')[0] ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    if (deps.cors.isPreflight(req)) {
      // The gateway answers preflights itself, for any path: no route, no authorizer, no function.
      req.resume();
      res.statusCode = 204;
      for (const [k, v] of Object.entries({ 'apigw-requestid': newRequestId(), ...deps.cors.preflightHeaders(req) })) res.setHeader(k, v);
      res.end();
      return;
    }
    const match = matchRoute(ROUTES, method, path);
    if (match) return handleApi(req, res, match);
    if (path.startsWith('/dev/') && (await handleDev(req, res, path, url))) return;
    if (path === '/__sandbox' || path.startsWith('/__sandbox/')) return proxySandbox(req, res, url);
    if (await serveStatic(req, res, path)) return;
    // Drain whatever body came with it, then answer as API Gateway does for no route.
    req.resume();
    writeGatewayMessage(res, 404, 'Not Found', deps.cors.responseHeaders(req));
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    void deps.track(
      route(req, res).catch((err) => {
        logger.error('local server error', { error: err instanceof Error ? { name: err.name, message: err.message } : String(err) });
        if (!res.headersSent) writeInternalError(res);
        else res.destroy();
      }),
    );
  };
}
