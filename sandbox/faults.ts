/**
 * Injected faults: the next N requests matching a method and path get a status, a delay, a
 * stalled body, a lost answer or a reset connection instead of (or after) the real handling.
 */
import type { FaultSpec } from './types.js';

export interface ActiveFault extends FaultSpec {
  remaining: number;
}

export class Faults {
  private list: ActiveFault[] = [];

  inject(f: FaultSpec): void {
    this.list.push({ ...f, remaining: f.times ?? 1 });
  }

  clear(): void {
    this.list = [];
  }

  /** The first fault matching this request, counted as used. */
  take(method: string, path: string, template: string | undefined): ActiveFault | undefined {
    const f = this.list.find(
      (x) =>
        x.remaining > 0 &&
        (!x.method || x.method.toUpperCase() === method) &&
        (typeof x.path === 'string' ? x.path === path || x.path === template : x.path.test(path)),
    );
    if (f) {
      f.remaining -= 1;
      this.list = this.list.filter((x) => x.remaining > 0);
    }
    return f;
  }
}

/** What Calendly answers with each status, when the fault gives no body. */
export function defaultFaultBody(status: number): unknown {
  if (status === 429) return { title: 'Too Many Requests', message: 'You have exceeded the rate limit.' };
  if (status >= 500) return { title: 'Internal Server Error', message: 'The server encountered an unexpected condition that prevented it from fulfilling the request.' };
  if (status === 401) return { title: 'Unauthenticated', message: 'The access token is invalid' };
  if (status === 404) return { title: 'Resource Not Found', message: 'The server could not find the requested resource.' };
  if (status === 409) return { title: 'Already Exists', message: 'Hook with this url already exists' };
  if (status === 204) return null;
  return { title: 'Error', message: `Injected ${status}` };
}

export function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
