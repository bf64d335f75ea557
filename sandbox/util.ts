import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** What a route handler answers; the server writes it (or loses it, when a fault says so). */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** JSON body (serialised by the server), a raw string (HTML), or nothing. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

export class ReplyError extends Error {
  constructor(readonly reply: Reply) {
    super(`sandbox reply ${reply.status}`);
  }
}

export const uuid = (): string => randomUUID();
export const secret = (bytes = 32): string => randomBytes(bytes).toString('hex');
export const opaque = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** Calendly timestamps carry microseconds: 2019-08-07T06:05:04.321123Z. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

export function parseTime(value: string | number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`invalid time: ${value}`);
  return ms;
}

export const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');

export function hmacHex(key: string, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export const lastSegment = (uri: string): string => uri.replace(/\/+$/, '').split('/').pop() ?? '';

export function apiError(status: number, title: string, message: string, details?: { parameter?: string; message: string; code?: string }[]): ReplyError {
  return new ReplyError({ status, json: details ? { title, message, details } : { title, message } });
}

export const invalidArgument = (details: { parameter?: string; message: string; code?: string }[]): ReplyError =>
  apiError(400, 'Invalid Argument', 'The supplied parameters are invalid.', details);

export const notFound = (): ReplyError => apiError(404, 'Resource Not Found', 'The server could not find the requested resource.');

export const oauthError = (status: number, error: string, description: string): ReplyError =>
  new ReplyError({ status, json: { error, error_description: description } });

/** Fixed one-minute windows per key, on the sandbox clock. */
export class RateWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly windowMs = 60_000) {}

  /** Counts one request; answers whether it is allowed and the header values. */
  hit(key: string, limit: number, now: number): { allowed: boolean; limit: number; remaining: number; resetSec: number } {
    let w = this.windows.get(key);
    if (!w || now >= w.start + this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    const allowed = w.count < limit;
    if (allowed) w.count += 1;
    return { allowed, limit, remaining: Math.max(0, limit - w.count), resetSec: Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) };
  }

  peek(key: string, limit: number, now: number): { limit: number; remaining: number; resetSec: number } {
    const w = this.windows.get(key);
    if (!w || now >= w.start + this.windowMs) return { limit, remaining: limit, resetSec: Math.ceil(this.windowMs / 1000) };
    return { limit, remaining: Math.max(0, limit - w.count), resetSec: Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) };
  }

  clear(): void {
    this.windows.clear();
  }
}

export type Cursor = [number, string];

/**
 * Keyset pagination over an array already sorted by (key, uuid) in the requested direction.
 * Tokens are opaque base64url: {a: cursor} = after, {b: cursor} = before.
 */
export function paginate<T>(
  sorted: T[],
  keyOf: (t: T) => Cursor,
  desc: boolean,
  count: number,
  pageToken: string | undefined,
): { items: T[]; next: string | null; prev: string | null } {
  const cmp = (a: Cursor, b: Cursor): number => {
    const c = a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
    return desc ? -c : c;
  };
  // First index whose key compares > cursor (strict) or >= cursor.
  const lowerBound = (c: Cursor, strict: boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = cmp(keyOf(sorted[mid] as T), c);
      if (strict ? r <= 0 : r < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let start = 0;
  let end: number;
  if (pageToken) {
    const tok = decodeToken(pageToken);
    if (tok.a) {
      start = lowerBound(tok.a, true);
      end = Math.min(sorted.length, start + count);
    } else if (tok.b) {
      end = lowerBound(tok.b, false);
      start = Math.max(0, end - count);
    } else throw invalidArgument([{ parameter: 'page_token', message: 'is invalid' }]);
  } else end = Math.min(sorted.length, count);
  const items = sorted.slice(start, end);
  const first = items[0];
  const last = items[items.length - 1];
  return {
    items,
    next: end < sorted.length && last !== undefined ? encodeToken({ a: keyOf(last) }) : null,
    prev: start > 0 && first !== undefined ? encodeToken({ b: keyOf(first) }) : null,
  };
}

function encodeToken(t: { a?: Cursor; b?: Cursor }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(token: string): { a?: Cursor; b?: Cursor } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { a?: unknown; b?: unknown };
    const ok = (c: unknown): c is Cursor => Array.isArray(c) && c.length === 2 && typeof c[0] === 'number' && typeof c[1] === 'string';
    if (ok(t.a)) return { a: t.a };
    if (ok(t.b)) return { b: t.b };
  } catch {
    // fall through
  }
  throw invalidArgument([{ parameter: 'page_token', message: 'is invalid' }]);
}

export function parseCount(raw: string | null, def = 20): number {
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw invalidArgument([{ parameter: 'count', message: 'must be an integer between 1 and 100' }]);
  return n;
}

export function pagination(baseUrl: string, path: string, query: URLSearchParams, count: number, itemCount: number, next: string | null, prev: string | null) {
  const pageUrl = (token: string) => {
    const q = new URLSearchParams(query);
    q.set('page_token', token);
    q.set('count', String(count));
    return `${baseUrl}${path}?${q.toString()}`;
  };
  return {
    count: itemCount,
    next_page: next ? pageUrl(next) : null,
    previous_page: prev ? pageUrl(prev) : null,
    next_page_token: next,
    previous_page_token: prev,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
