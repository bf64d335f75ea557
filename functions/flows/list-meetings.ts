/**
 * GET /meetings: the caller's meetings starting in [from, to), ordered by start time, paged.
 *
 * Query parameters:
 * - `from`, `to`: ISO-8601 date-times with a zone (`Z` or `±hh:mm`), or plain dates
 *   (`YYYY-MM-DD`, read as UTC midnight); `from` < `to`. Either may be left out: the window is
 *   then open on that side (`GET /meetings` alone lists every meeting, by start time), which is
 *   what a caller asking for "my meetings" expects; pages keep it cheap.
 * - `status`: `active` | `canceled`.
 * - `limit`: 1–100, default 50.
 * - `nextToken`: from the previous page. It carries its window and filter, so from/to/status
 *   may be omitted with it (if repeated they must agree, else 400).
 * Unknown parameters are refused (400), so a typo does not silently widen a query.
 * Meetings whose start time we do not know yet (an old-style invitee payload arrived before any
 * event snapshot) are not listed until it arrives: they cannot be placed in a window.
 * A user who is disconnected (or never connected) gets an empty list: their meetings stop being
 * served the moment the disconnect is marked, while the purge deletes them in the background.
 */
import * as z from 'zod';
import { InvalidInputError } from '../domain/errors.js';
import type { ConnectionStatus } from '../domain/connection.js';
import type { ListMeetingsResult, MeetingStore } from '../store/meetings/index.js';

export const DEFAULT_LIMIT = 50;
/** An open side of the window: the earliest and latest instants a meeting can be listed at. */
const OPEN_FROM_MS = Date.UTC(1970, 0, 1);
const OPEN_TO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const MAX_LIMIT = 100;

const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'must be an ISO-8601 date-time with a zone (e.g. 2026-07-01T00:00:00Z) or a date (2026-07-01)',
});

const querySchema = z.strictObject({
  from: instant.optional(),
  to: instant.optional(),
  status: z.enum(['active', 'canceled']).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIMIT))
    .optional(),
  // Length and content are judged by the store (400 invalid_next_token).
  nextToken: z.string().min(1).max(8192).optional(),
});

export interface ListMeetingsDeps {
  meetings: Pick<MeetingStore, 'list'>;
  /** The user's connection status; undefined when they never connected. */
  connectionStatus(userId: string): Promise<ConnectionStatus | undefined>;
}

const toMs = (s: string): number => Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);

export async function listMeetings(
  deps: ListMeetingsDeps,
  userId: string,
  query: Record<string, string | undefined> | null | undefined,
): Promise<ListMeetingsResult> {
  const parsed = querySchema.safeParse(query ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    const unknown = issue?.code === 'unrecognized_keys' ? `unknown query parameter(s): ${issue.keys.join(', ')}` : undefined;
    throw new InvalidInputError('invalid_query', unknown ?? `${where}${issue?.message ?? 'invalid query'}`);
  }
  const q = parsed.data;
  const status = await deps.connectionStatus(userId);
  if (status === undefined || status === 'disconnected') return { meetings: [] };
  if (q.nextToken !== undefined) {
    // The token carries its window; from/to/status may be repeated but must then agree.
    return deps.meetings.list(userId, {
      from: q.from !== undefined ? checkedIso(q.from) : undefined,
      to: q.to !== undefined ? checkedIso(q.to) : undefined,
      status: q.status,
      limit: q.limit ?? DEFAULT_LIMIT,
      nextToken: q.nextToken,
    });
  }
  const fromMs = q.from !== undefined ? toMs(q.from) : OPEN_FROM_MS;
  const toMsV = q.to !== undefined ? toMs(q.to) : OPEN_TO_MS;
  const from = checkedIso(fromMs);
  const to = checkedIso(toMsV);
  if (fromMs >= toMsV) throw new InvalidInputError('invalid_query', '`from` must be before `to`.');
  return deps.meetings.list(userId, { from, to, status: q.status, limit: q.limit ?? DEFAULT_LIMIT });
}

function checkedIso(value: string | number): string {
  const d = new Date(typeof value === 'string' ? toMs(value) : value);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) {
    throw new InvalidInputError('invalid_query', '`from` and `to` must be times between 1970 and 9999.');
  }
  return d.toISOString();
}
