/**
 * The local API Gateway: requests become HTTP API payload 2.0 events (raw bytes preserved),
 * the JWT authorizer accepts and rejects as the HTTP API's does, function answers become
 * responses, and the local-only /dev routes work. Route handlers are test doubles that echo the
 * event they got; /health is the real handler.
 */
import { request as httpRequest } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import type { HttpEvent } from '../../functions/edge/http.js';
import { LOCAL_JWT_AUDIENCE, LOCAL_JWT_ISSUER } from '../../local/auth.js';
import { call, useLocalRuntime } from '../support/runtime.js';

let lastEvent: HttpEvent | undefined;
const calls: string[] = [];
const echo = async (event: HttpEvent) => {
  lastEvent = event;
  calls.push(event.routeKey);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ok: true }) };
};

let releaseSlow!: () => void;
const slowGate = new Promise<void>((r) => (releaseSlow = r));

const schedulerInputs: unknown[] = [];
const queueFromEnv = () =>
  createSqsQueue({ urls: { sync: process.env.SYNC_QUEUE_URL!, health: process.env.HEALTH_QUEUE_URL! }, endpoint: process.env.SQS_ENDPOINT });

const rt = useLocalRuntime({
  integrationTimeoutMs: 2500,
  env: { CALENDLY_CLIENT_ID: 'test', CALENDLY_CLIENT_SECRET: 'test', CALENDLY_WEBHOOK_SIGNING_KEY: 'test', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
  handlers: {
    connections: echo,
    meetings: echo,
    webhook: async (event: HttpEvent) => {
      lastEvent = event;
      const q = event.queryStringParameters ?? {};
      if (q.answer === 'binary') return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true };
      if (q.answer === 'cookies') return { statusCode: 201, cookies: ['a=1; Path=/', 'b=2; HttpOnly'], body: 'made' };
      if (q.answer === 'plain') return { hello: 'world' };
      if (q.answer === 'throw') throw new Error('boom');
      if (q.answer === 'slow') await slowGate;
      return { statusCode: 200, body: '' };
    },
    // The scheduler fans out over the health queue; each health check queues a sync.
    'health-scheduler': async (input: unknown) => {
      schedulerInputs.push(input);
      await queueFromEnv().send('health', [{ userId: 'u1' }, { userId: 'u2' }, { userId: 'u3' }]);
      return { queued: 3 };
    },
    'health-worker': async (event: { Records: Array<{ body: string }> }) => {
      await queueFromEnv().send('sync', event.Records.map((r) => JSON.parse(r.body) as unknown));
      return { batchItemFailures: [] };
    },
    'sync-worker': async () => ({ batchItemFailures: [] }),
  },
});

const authorizer = (e: HttpEvent | undefined) => e?.requestContext.authorizer?.jwt;

describe('JWT authorizer (as the HTTP API JWT authorizer)', () => {
  const expectRejected = async (headers: Record<string, string>) => {
    const before = calls.length;
    const res = await call(rt(), 'GET', '/connections/calendly', { headers });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: 'Unauthorized' });
    expect(calls.length).toBe(before); // the function never ran
  };

  it('rejects a request without a token', async () => {
    await expectRejected({});
  });

  it('rejects garbage and an empty bearer', async () => {
    await expectRejected({ authorization: 'Bearer not-a-jwt' });
    await expectRejected({ authorization: 'Bearer ' });
  });

  it('rejects a token signed with another key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const good = await rt().mintToken('u1');
    const kid = JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString()).kid as string;
    const forged = await new SignJWT({ sub: 'u1', iss: LOCAL_JWT_ISSUER, aud: LOCAL_JWT_AUDIENCE })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await expectRejected({ authorization: `Bearer ${forged}` });
  });

  it('rejects a token whose signature was tampered with', async () => {
    const [h, p, s] = (await rt().mintToken('u1')).split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${s}`;
    await expectRejected({ authorization: `Bearer ${tampered}` });
  });

  it('rejects the wrong audience and the wrong issuer', async () => {
    await expectRejected({ authorization: `Bearer ${await rt().mintToken('u1', { aud: 'another-api' })}` });
    await expectRejected({ authorization: `Bearer ${await rt().mintToken('u1', { iss: 'https://evil.example' })}` });
  });

  it('rejects an expired token, a not-yet-valid one, and one without exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected({ authorization: `Bearer ${await rt().mintToken('u1', { iat: now - 7200, exp: now - 3600 })}` });
    await expectRejected({ authorization: `Bearer ${await rt().mintToken('u1', { nbf: now + 3600 })}` });
    await expectRejected({ authorization: `Bearer ${await rt().mintToken('u1', { exp: undefined })}` });
  });

  it('accepts a good token and puts its claims where API Gateway does', async () => {
    const token = await rt().mintToken('user-42', { email: 'a@b.test', groups: ['x', 'y'] });
    const res = await call(rt(), 'GET', '/connections/calendly', { token });
    expect(res.status).toBe(200);
    const jwt = authorizer(lastEvent)!;
    expect(jwt.claims).toMatchObject({ sub: 'user-42', iss: LOCAL_JWT_ISSUER, aud: LOCAL_JWT_AUDIENCE, email: 'a@b.test', groups: '[x y]' });
    // API Gateway renders every claim as a string.
    expect(typeof jwt.claims!.exp).toBe('string');
    expect((jwt as { scopes?: string[] }).scopes).toEqual(['connections', 'meetings']);
  });

  it('leaves unauthenticated routes alone (no authorizer context)', async () => {
    await call(rt(), 'POST', '/webhooks/calendly/k1', { body: '{}' , headers: { authorization: 'Bearer nonsense' } });
    expect(lastEvent?.routeKey).toBe('POST /webhooks/calendly/{hookKey}');
    expect(authorizer(lastEvent)).toBeUndefined();
  });
});

describe('POST /dev/session', () => {
  it('mints a token the authorizer accepts', async () => {
    const res = await call(rt(), 'POST', '/dev/session', { body: { userId: 'demo-user' } });
    expect(res.status).toBe(200);
    const { token } = res.body as { token: string };
    expect((await call(rt(), 'DELETE', '/connections/calendly', { token })).status).toBe(200);
    expect(authorizer(lastEvent)?.claims?.sub).toBe('demo-user');
  });

  it.each([
    ['no body', undefined],
    ['not JSON', 'nope{'],
    ['missing userId', {}],
    ['empty userId', { userId: '' }],
    ['a number', { userId: 7 }],
    ['too long', { userId: 'u'.repeat(129) }],
    ['unsafe characters', { userId: 'a b/<c>' }],
    ['unknown fields', { userId: 'ok', admin: true }],
  ])('answers 400 {error, message} for %s', async (_what, body) => {
    const res = await call(rt(), 'POST', '/dev/session', { body: body as unknown, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  });
});

describe('HTTP API payload 2.0 events', () => {
  const post = (path: string, body: Uint8Array | string, headers: Record<string, string>) =>
    fetch(`${rt().baseUrl}${path}`, { method: 'POST', body: body as NonNullable<RequestInit['body']>, headers });

  it('passes a JSON body through as text, byte for byte', async () => {
    const raw = '{"event":"invitee.created",  "payload":{"name":"Zoë ✓"}}';
    await post('/webhooks/calendly/abc', raw, { 'content-type': 'application/json' });
    expect(lastEvent!.isBase64Encoded).toBe(false);
    expect(lastEvent!.body).toBe(raw);
  });

  it('base64-encodes a binary body and keeps every byte', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await post('/webhooks/calendly/abc', bytes, { 'content-type': 'application/octet-stream' });
    expect(lastEvent!.isBase64Encoded).toBe(true);
    expect(Buffer.from(lastEvent!.body!, 'base64').equals(Buffer.from(bytes))).toBe(true);
  });

  it('base64-encodes a form post, as HTTP APIs do', async () => {
    await post('/webhooks/calendly/abc', 'a=1&b=%C3%A9', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(lastEvent!.isBase64Encoded).toBe(true);
    expect(Buffer.from(lastEvent!.body!, 'base64').toString()).toBe('a=1&b=%C3%A9');
  });

  it('base64-encodes a "JSON" body that is not valid UTF-8, so signed bytes survive', async () => {
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]);
    await post('/webhooks/calendly/abc', bytes, { 'content-type': 'application/json' });
    expect(lastEvent!.isBase64Encoded).toBe(true);
    expect(Buffer.from(lastEvent!.body!, 'base64').equals(bytes)).toBe(true);
  });

  it('fills path, query, headers, cookies and requestContext like API Gateway', async () => {
    await post('/webhooks/calendly/hk%2Fa%20b?x=1&x=2&y=hello%20there&empty=', 'hi', {
      'content-type': 'text/plain',
      'X-Custom': 'One',
      cookie: 'a=1; b=2',
      'user-agent': 'vitest-agent',
    });
    const e = lastEvent as APIGatewayProxyEventV2;
    expect(e.version).toBe('2.0');
    expect(e.routeKey).toBe('POST /webhooks/calendly/{hookKey}');
    expect(e.rawPath).toBe('/webhooks/calendly/hk%2Fa%20b');
    expect(e.rawQueryString).toBe('x=1&x=2&y=hello%20there&empty=');
    expect(e.pathParameters).toEqual({ hookKey: 'hk/a b' });
    expect(e.queryStringParameters).toEqual({ x: '1,2', y: 'hello there', empty: '' });
    expect(e.headers['x-custom']).toBe('One');
    expect(e.headers['content-type']).toBe('text/plain');
    expect(e.headers.cookie).toBeUndefined();
    expect(e.cookies).toEqual(['a=1', 'b=2']);
    expect(e.body).toBe('hi');
    expect(e.requestContext).toMatchObject({
      http: { method: 'POST', path: '/webhooks/calendly/hk%2Fa%20b', protocol: 'HTTP/1.1', userAgent: 'vitest-agent' },
      routeKey: 'POST /webhooks/calendly/{hookKey}',
      stage: '$default',
      accountId: expect.any(String),
      apiId: expect.any(String),
      domainName: '127.0.0.1',
      requestId: expect.any(String),
    });
    expect(e.requestContext.http.sourceIp).toMatch(/^(127\.0\.0\.1|::1)$/);
    expect(e.requestContext.timeEpoch).toBeGreaterThan(0);
    expect(e.requestContext.time).toMatch(/^\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
  });

  it('joins repeated headers with commas and leaves out absent parts', async () => {
    // fetch folds repeated headers itself; node:http sends them as separate lines.
    const token = await rt().mintToken('u1');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${rt().baseUrl}/meetings`, { headers: { authorization: `Bearer ${token}`, 'x-multi': ['a', 'b'] } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(lastEvent!.headers['x-multi']).toBe('a,b');
    expect(lastEvent!.queryStringParameters).toBeUndefined();
    expect(lastEvent!.pathParameters).toBeUndefined();
    expect(lastEvent!.body).toBeUndefined();
    expect(lastEvent!.isBase64Encoded).toBe(false);
  });

  it('writes base64 answers as bytes, cookies as set-cookie, bare objects as JSON', async () => {
    const bin = await fetch(`${rt().baseUrl}/webhooks/calendly/k?answer=binary`, { method: 'POST' });
    expect(Buffer.from(await bin.arrayBuffer())).toEqual(Buffer.from([0, 255, 1]));
    const cookies = await fetch(`${rt().baseUrl}/webhooks/calendly/k?answer=cookies`, { method: 'POST' });
    expect(cookies.status).toBe(201);
    expect(cookies.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    const plain = await call(rt(), 'POST', '/webhooks/calendly/k?answer=plain');
    expect(plain).toMatchObject({ status: 200, body: { hello: 'world' } });
    expect(plain.headers.get('content-type')).toBe('application/json');
  });

  it('answers 500 {"message":"Internal Server Error"} when the function throws', async () => {
    const res = await call(rt(), 'POST', '/webhooks/calendly/k?answer=throw');
    expect(res).toMatchObject({ status: 500, body: { message: 'Internal Server Error' } });
  });

  it('answers 503 {"message":"Service Unavailable"} when the function outlives the integration timeout', async () => {
    const res = await call(rt(), 'POST', '/webhooks/calendly/k?answer=slow');
    releaseSlow();
    expect(res).toMatchObject({ status: 503, body: { message: 'Service Unavailable' } });
  });

  it('answers 404 {"message":"Not Found"} for unknown routes and methods', async () => {
    expect(await call(rt(), 'GET', '/nowhere')).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect(await call(rt(), 'PUT', '/connections/calendly')).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect(await call(rt(), 'POST', '/webhooks/calendly/')).toMatchObject({ status: 404, body: { message: 'Not Found' } });
    expect(await call(rt(), 'POST', '/webhooks/calendly/a/b')).toMatchObject({ status: 404, body: { message: 'Not Found' } });
  });

  it('refuses bodies over 10 MB as API Gateway does', async () => {
    const res = await call(rt(), 'POST', '/webhooks/calendly/k', { body: new Uint8Array(10 * 1024 * 1024 + 1) });
    expect(res).toMatchObject({ status: 413, body: { message: 'Request Entity Too Large' } });
  });
});

describe('the rest of the local front door', () => {
  it('serves /health from the real handler', async () => {
    expect(await call(rt(), 'GET', '/health')).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('serves the settings page at / and keeps files outside public/ out of reach', async () => {
    const page = await fetch(`${rt().baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect((await call(rt(), 'GET', '/..%2f..%2fpackage.json')).status).toBe(404);
  });

  it('tells the page whether the sandbox is in use', async () => {
    const res = await call(rt(), 'GET', '/dev/config');
    expect(res.body).toMatchObject({ sandbox: false, calendly: { mode: 'external' } });
  });

  it('POST /dev/health-check runs one cycle and waits for the work it queued', async () => {
    const res = await call(rt(), 'POST', '/dev/health-check');
    expect(res.status).toBe(200);
    expect(schedulerInputs.at(-1)).toEqual({ kind: 'health-tick', all: true });
    // 3 health checks, each queueing one sync: all finished before the answer.
    expect(res.body).toMatchObject({ scheduler: { queued: 3 }, processed: 6, failed: 0, drained: true, durationMs: expect.any(Number) });
  });
});
