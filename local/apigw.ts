/**
 * What API Gateway's HTTP API does around a Lambda proxy integration (payload format 2.0):
 * turning a request into the event, and the function's answer into the response.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { RouteDef } from '../functions/routes.js';
import type { JwtAuthorizerResult } from './auth.js';
import { LOCAL_ACCOUNT_ID } from './lambda-context.js';

export const LOCAL_API_ID = 'local';
/** API Gateway's payload limit for HTTP APIs. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface MatchedRoute {
  route: RouteDef;
  routeKey: string;
  pathParameters?: Record<string, string>;
}

/** Matches `{name}` (one segment) and `{name+}` (the rest) the way HTTP API routes do. */
export function matchRoute(routes: readonly RouteDef[], method: string, rawPath: string): MatchedRoute | undefined {
  const segments = rawPath.split('/').slice(1);
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/').slice(1);
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i]!;
      const greedy = /^\{(.+)\+\}$/.exec(p);
      if (greedy) {
        const rest = segments.slice(i).join('/');
        if (!rest) ok = false;
        else params[greedy[1]!] = safeDecode(rest);
        break;
      }
      const s = segments[i];
      if (s === undefined) {
        ok = false;
        break;
      }
      const param = /^\{(.+)\}$/.exec(p);
      if (param) {
        if (s === '') {
          ok = false;
          break;
        }
        params[param[1]!] = safeDecode(s);
      } else if (p !== s) {
        ok = false;
        break;
      }
      if (i === pattern.length - 1 && segments.length !== pattern.length) ok = false;
    }
    if (ok) {
      return { route, routeKey: `${route.method} ${route.path}`, ...(Object.keys(params).length ? { pathParameters: params } : {}) };
    }
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// Form posts are not on this list: HTTP APIs hand them over base64-encoded.
const TEXT_TYPES = /^(text\/|application\/(json|javascript|xml|[\w.+-]+\+(json|xml)))/i;

/**
 * API Gateway hands text bodies over as they are and everything else base64-encoded. A body
 * that claims to be text but is not valid UTF-8 is base64-encoded too, so that its bytes (which
 * a webhook signature covers) arrive exactly.
 */
export function encodeBody(body: Buffer, contentType: string | undefined): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  if (contentType && TEXT_TYPES.test(contentType.trim())) {
    const text = body.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(body)) return { body: text, isBase64Encoded: false };
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

export function newRequestId(): string {
  // API Gateway request ids look like `JXc2HhzYIAMEVKg=`.
  return randomBytes(10).toString('base64');
}

/** `12/Mar/2020:19:03:58 +0000`, the requestContext.time format. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export interface BuildEventInput {
  req: IncomingMessage;
  body: Buffer;
  match: MatchedRoute;
  requestId: string;
  authorizer?: JwtAuthorizerResult;
  now?: number;
}

export function buildHttpEvent({ req, body, match, requestId, authorizer, now = Date.now() }: BuildEventInput): APIGatewayProxyEventV2 {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);

  // Format 2.0: lower-case names, duplicates joined with commas, cookies moved to `cookies`.
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name === 'cookie') {
      for (const c of value.split(';')) if (c.trim()) cookies.push(c.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']},${sourceIp}` : sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');

  const query: Record<string, string> = {};
  if (rawQueryString) {
    for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  }

  const host = (headers.host ?? 'localhost').replace(/:\d+$/, '');
  const method = (req.method ?? 'GET').toUpperCase();
  const encoded = encodeBody(body, headers['content-type']);

  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: LOCAL_API_ID,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: match.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now,
    },
    ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
    ...(encoded.body !== undefined ? { body: encoded.body } : {}),
    isBase64Encoded: encoded.isBase64Encoded,
  };
  if (authorizer) {
    (event.requestContext as unknown as Record<string, unknown>).authorizer = {
      jwt: { claims: authorizer.claims, scopes: authorizer.scopes ?? null },
    };
  }
  return event;
}

/**
 * Writes a function's answer as API Gateway does for format 2.0: a structured result
 * (`statusCode` present) is used as is; anything else is taken as a JSON body with 200.
 * `ignoreHeader`: headers the gateway owns (the CORS headers, when CORS is configured).
 */
export function writeLambdaResult(res: ServerResponse, result: unknown, requestId: string, ignoreHeader: (name: string) => boolean = () => false): void {
  res.setHeader('apigw-requestid', requestId);
  if (result !== null && typeof result === 'object' && 'statusCode' in result) {
    const r = result as {
      statusCode: number;
      headers?: Record<string, string | number | boolean>;
      multiValueHeaders?: Record<string, Array<string | number | boolean>>;
      cookies?: string[];
      body?: string;
      isBase64Encoded?: boolean;
    };
    const status = Number(r.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) return writeInternalError(res);
    for (const [k, v] of Object.entries(r.headers ?? {})) if (!ignoreHeader(k)) res.setHeader(k, String(v));
    for (const [k, vs] of Object.entries(r.multiValueHeaders ?? {})) if (!ignoreHeader(k)) res.setHeader(k, vs.map(String));
    if (r.cookies?.length) res.setHeader('set-cookie', r.cookies);
    const body = r.body === undefined || r.body === null ? Buffer.alloc(0) : Buffer.from(String(r.body), r.isBase64Encoded ? 'base64' : 'utf8');
    res.statusCode = status;
    res.setHeader('content-length', body.length);
    res.end(body);
    return;
  }
  const body = Buffer.from(result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result), 'utf8');
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', body.length);
  res.end(body);
}

/** API Gateway's own answers (not from a function): `{"message": ...}`. */
export function writeGatewayMessage(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ message });
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

export function writeInternalError(res: ServerResponse): void {
  writeGatewayMessage(res, 500, 'Internal Server Error');
}
