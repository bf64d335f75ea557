/**
 * CORS as API Gateway's HTTP API does it when the stack's `AllowedOrigins` is set (locally
 * `ALLOWED_ORIGINS`): preflights are answered by the gateway itself, before any route, the
 * authorizer or a function; every other answer to a listed origin carries
 * Access-Control-Allow-Origin (CORS headers a function returns are ignored). An origin not
 * listed gets no CORS headers, so the browser refuses the page the answer. No origins = no CORS
 * at all: an OPTIONS request is just a request with no route (404).
 */
import type { IncomingMessage } from 'node:http';

export const CORS_ALLOW_METHODS = 'GET,POST,DELETE,OPTIONS';
export const CORS_ALLOW_HEADERS = 'authorization,content-type';
/** As the stack configures it: browsers cap it lower anyway (Chromium: 2 h). */
export const CORS_MAX_AGE_SECONDS = 3600;

export interface Cors {
  /** True when any origin is listed. */
  readonly enabled: boolean;
  /** True when CORS is configured and this is a preflight (OPTIONS + Origin + Access-Control-Request-Method). */
  isPreflight(req: IncomingMessage): boolean;
  /** Headers of the gateway's own 204 answer to a preflight (none for an origin not listed). */
  preflightHeaders(req: IncomingMessage): Record<string, string>;
  /** Headers added to any other answer of the API (none for an origin not listed). */
  responseHeaders(req: IncomingMessage): Record<string, string>;
}

export function createCors(allowedOrigins: readonly string[]): Cors {
  const allowed = new Set(allowedOrigins);
  const listedOrigin = (req: IncomingMessage): string | undefined => {
    const origin = req.headers.origin;
    return origin !== undefined && allowed.has(origin) ? origin : undefined;
  };
  return {
    enabled: allowed.size > 0,
    isPreflight: (req) => allowed.size > 0 && req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined,
    preflightHeaders(req): Record<string, string> {
      const origin = listedOrigin(req);
      if (!origin) return {};
      return {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': CORS_ALLOW_METHODS,
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
        vary: 'origin',
      };
    },
    responseHeaders(req): Record<string, string> {
      const origin = listedOrigin(req);
      return origin ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    },
  };
}

/** True for a header the gateway owns when CORS is configured. */
export const isCorsHeader = (name: string): boolean => name.toLowerCase().startsWith('access-control-');
