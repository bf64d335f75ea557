/**
 * The local event bus: what EventBridge is in AWS, in process. An append-only log of the events
 * put on it, read with a cursor (`GET /dev/events?after=<cursor>`, oldest first), and a
 * PutEvents endpoint on the front door (`POST /dev/eventbridge`, the AWS JSON protocol) so the
 * handlers publish through the same EventBridge adapter as in AWS, with EVENTS_ENDPOINT set.
 *
 * Memory is bounded: past `capacity` events the oldest are dropped; a cursor older than what
 * is kept reads from the oldest kept event. The cursor is the sequence number of the last event
 * read (decimal), so it survives nothing: after a restart the log starts again at 1 and a cursor
 * from before it is ahead of the log, which the route refuses (400) so the reader starts over.
 */
import { randomUUID } from 'node:crypto';

export const LOCAL_EVENT_BUS_NAME = 'calendly-connector-local';
export const EVENTS_PAGE_DEFAULT = 100;
export const EVENTS_PAGE_MAX = 500;

export interface BusEvent {
  id: string;
  source: string;
  detailType: string;
  detail: unknown;
  /** When the bus accepted it (ISO). */
  time: string;
}

export interface EventsPage {
  events: Array<{ id: string; detailType: string; detail: unknown; time: string }>;
  /** Pass back as `after` for the next page; unchanged when nothing new arrived. */
  cursor: string;
}

export class CursorError extends Error {}

export class LocalEventBus {
  private readonly log: Array<BusEvent & { seq: number }> = [];
  private seq = 0;

  constructor(
    private readonly capacity = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Appends events in order; answers their ids. */
  append(events: ReadonlyArray<{ source: string; detailType: string; detail: unknown }>): string[] {
    const time = new Date(this.now()).toISOString();
    const ids: string[] = [];
    for (const e of events) {
      const id = randomUUID();
      this.log.push({ seq: ++this.seq, id, source: e.source, detailType: e.detailType, detail: e.detail, time });
      ids.push(id);
    }
    if (this.log.length > this.capacity) this.log.splice(0, this.log.length - this.capacity);
    return ids;
  }

  /** The events after `after` (undefined: from the start), oldest first. Throws CursorError for a bad cursor. */
  page(after: string | undefined, limit = EVENTS_PAGE_DEFAULT): EventsPage {
    let from = 0;
    if (after !== undefined) {
      if (!/^(0|[1-9]\d{0,15})$/.test(after)) throw new CursorError('after must be a cursor from an earlier answer (a non-negative integer).');
      from = Number(after);
      if (from > this.seq) throw new CursorError('after is ahead of the event log (the runtime was restarted?): read again without it.');
    }
    const size = Math.min(Math.max(1, Math.floor(limit)), EVENTS_PAGE_MAX);
    const start = this.log.findIndex((e) => e.seq > from);
    const slice = start < 0 ? [] : this.log.slice(start, start + size);
    const last = slice.at(-1);
    return {
      events: slice.map((e) => ({ id: e.id, detailType: e.detailType, detail: e.detail, time: e.time })),
      cursor: String(last ? last.seq : Math.max(from, this.log[0] ? this.log[0].seq - 1 : from)),
    };
  }
}

/** One PutEvents request (AWS JSON 1.1, target AWSEvents.PutEvents) against the local bus. */
export function putEvents(bus: LocalEventBus, body: unknown): { status: number; body: unknown } {
  const entries = (body as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
    return { status: 400, body: { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries.' } };
  }
  const results: Array<{ EventId: string } | { ErrorCode: string; ErrorMessage: string }> = [];
  let failed = 0;
  for (const raw of entries as Array<Record<string, unknown>>) {
    const { Source, DetailType, Detail, EventBusName } = raw ?? {};
    let detail: unknown;
    try {
      detail = typeof Detail === 'string' ? JSON.parse(Detail) : undefined;
    } catch {
      detail = undefined;
    }
    const problem =
      EventBusName !== undefined && EventBusName !== LOCAL_EVENT_BUS_NAME
        ? ['ResourceNotFoundException', `Event bus ${String(EventBusName)} does not exist.`]
        : typeof Source !== 'string' || !Source || typeof DetailType !== 'string' || !DetailType
          ? ['InvalidArgument', 'Source and DetailType are required.']
          : detail === null || typeof detail !== 'object' || Array.isArray(detail)
            ? ['MalformedDetail', 'Detail is not a JSON object.']
            : undefined;
    if (problem) {
      failed++;
      results.push({ ErrorCode: problem[0]!, ErrorMessage: problem[1]! });
      continue;
    }
    const [id] = bus.append([{ source: Source as string, detailType: DetailType as string, detail }]);
    results.push({ EventId: id! });
  }
  return { status: 200, body: { FailedEntryCount: failed, Entries: results } };
}
