/**
 * CORS at the local API Gateway (ALLOWED_ORIGINS), as the HTTP API does it with the stack's
 * AllowedOrigins: preflights answered by the gateway before the authorizer, the listed origin
 * echoed on every API answer (the authorizer's 401 too), nothing for an origin not listed, and
 * no CORS at all when nothing is listed. The browser's side of it is test/e2e/cors.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestRuntime, type LocalRuntime } from '../support/runtime.js';

const APP = 'https://app.example.com';
const OTHER = 'https://evil.example';

let withCors: LocalRuntime;
let withoutCors: LocalRuntime;
beforeAll(async () => {
  // The handlers take their configuration from the runtime started last (withCors); the
  // runtime without CORS is only asked things no handler answers (preflights, no route).
  withoutCors = await startTestRuntime();
  withCors = await startTestRuntime({ env: { ALLOWED_ORIGINS: `http://localhost:5173,${APP}` } });
}, 120_000);
afterAll(async () => {
  await withCors?.stop();
  await withoutCors?.stop();
}, 60_000);

const preflight = (rt: LocalRuntime, path: string, origin: string, method = 'GET') =>
  call(rt, 'OPTIONS', path, { headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization' } });

describe('with ALLOWED_ORIGINS', () => {
  it('answers a preflight from a listed origin with 204 and the CORS headers, before the authorizer', async () => {
    const r = await preflight(withCors, '/connections/calendly', APP, 'DELETE');
    expect(r.status).toBe(204);
    expect(r.body).toBeUndefined();
    expect(r.headers.get('access-control-allow-origin')).toBe(APP);
    expect(r.headers.get('access-control-allow-methods')).toBe('GET,POST,DELETE,OPTIONS');
    expect(r.headers.get('access-control-allow-headers')?.split(',')).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(Number(r.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(r.headers.get('vary')).toMatch(/origin/i);
  });

  it('answers a preflight from an origin not listed without any CORS header', async () => {
    const r = await preflight(withCors, '/meetings', OTHER);
    expect(r.status).toBe(204);
    expect([...r.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('puts the listed origin on the function answer, and replaces nothing else', async () => {
    const token = await withCors.mintToken('cors-user');
    const r = await call(withCors, 'GET', '/meetings', { token, headers: { origin: APP } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ meetings: [] });
    expect(r.headers.get('access-control-allow-origin')).toBe(APP);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });

  it("puts it on the gateway's own answers too: the authorizer's 401 and no route's 404", async () => {
    const unauthorized = await call(withCors, 'GET', '/meetings', { headers: { origin: APP } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe(APP);
    const noRoute = await call(withCors, 'GET', '/no-such-route', { headers: { origin: APP } });
    expect(noRoute.status).toBe(404);
    expect(noRoute.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('gives an origin not listed the answer without Access-Control-Allow-Origin (the browser withholds it)', async () => {
    const token = await withCors.mintToken('cors-user');
    const r = await call(withCors, 'GET', '/meetings', { token, headers: { origin: OTHER } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('treats OPTIONS without Access-Control-Request-Method as an ordinary request (no route: 404)', async () => {
    const r = await call(withCors, 'OPTIONS', '/meetings', { headers: { origin: APP } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ message: 'Not Found' });
  });
});

describe('without ALLOWED_ORIGINS (the default)', () => {
  it('has no CORS: a preflight is a request with no route, and answers carry no CORS header', async () => {
    const r = await preflight(withoutCors, '/meetings', APP);
    expect(r.status).toBe(404);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const unauthorized = await call(withoutCors, 'GET', '/meetings', { headers: { origin: APP } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBeNull();
  });
});
