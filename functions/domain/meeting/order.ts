/** The total orders the registers are merged under, and the canonical form used to compare values. */
import type { EventRegister, InviteeRegister, NoShowRegister } from './state.js';

/** Canonical JSON (sorted keys) so equal values compare equal whatever their key order. */
export function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const ISO_FRACTION = /\.(\d+)/;

/**
 * An instant as [epoch ms, sub-ms microseconds]: Calendly timestamps carry microseconds
 * (`…:00.123456Z`), the port or other clients may carry milliseconds; compare as instants.
 * Unparsable or missing → lowest.
 */
function instant(ts: string | null | undefined): [number, number] {
  if (!ts) return [Number.NEGATIVE_INFINITY, 0];
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return [Number.NEGATIVE_INFINITY, 0];
  const frac = ISO_FRACTION.exec(ts)?.[1] ?? '';
  const micros = Number((frac + '000000').slice(3, 6));
  return [ms, micros];
}

export function compareInstants(a: string | null | undefined, b: string | null | undefined): number {
  const [am, au] = instant(a);
  const [bm, bu] = instant(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return au === bu ? 0 : au < bu ? -1 : 1;
}

/** Fixed-width UTC ISO (ms) for sortable keys; null when unparsable. */
export function normalizeIso(ts: string | null | undefined): string | null {
  if (!ts) return null;
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return null;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) return null;
  return d.toISOString();
}

export const statusRank = (s: 'active' | 'canceled' | null): number => (s === 'canceled' ? 2 : s === 'active' ? 1 : 0);

export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Total order of event registers: updated_at, then canceled > active, then content. */
export function compareEvent(a: EventRegister, b: EventRegister): number {
  return compareInstants(a.updatedAt, b.updatedAt) || statusRank(a.status) - statusRank(b.status) || compareStrings(canonical(a), canonical(b));
}

/** Total order of invitee registers: updated_at, then canceled > active, then content. */
export function compareInvitee(a: InviteeRegister, b: InviteeRegister): number {
  return compareInstants(a.updatedAt, b.updatedAt) || statusRank(a.status) - statusRank(b.status) || compareStrings(canonical(a), canonical(b));
}

/** Total order of no-show registers: time of change, then cleared > set, then content. */
export function compareNoShow(a: NoShowRegister, b: NoShowRegister): number {
  return (
    compareInstants(a.at, b.at) ||
    (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0) ||
    compareStrings(canonical(a), canonical(b))
  );
}
