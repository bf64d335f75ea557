import fc from 'fast-check';
import { parseDelivery } from '../../functions/calendly/webhook-payloads.js';
import type { MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { at, envelope, inviteePayload } from './helpers.js';

export { at, envelope, eventUri, inviteePayload, inviteeUri } from './helpers.js';

export const OBS = '2026-05-01T12:00:00.000Z';

/** A delivery body turned into the MeetingUpdate ingest would apply. */
export function upd(event: string, payload: Record<string, unknown>, createdAt?: string): MeetingUpdate {
  const parsed = parseDelivery(envelope(event, payload, createdAt), OBS);
  if (parsed.kind !== 'update') throw new Error(`expected an update, got ${parsed.kind}`);
  return parsed.update;
}

export const API_NS = 'https://api.calendly.com/invitee_no_shows';

// --- property: any permutation and duplication of a delivery sequence ends in the in-order state

const ts = fc.integer({ min: 0, max: 6 }).map((m) => at(m)); // a small pool: many ties
const inviteeIds = fc.constantFrom('I1', 'I2', 'I3');

const deliveryArb: fc.Arbitrary<MeetingUpdate> = fc.oneof(
  fc
    .record({
      inv: inviteeIds,
      status: fc.constantFrom('active' as const, 'canceled' as const),
      updatedAt: ts,
      rescheduled: fc.boolean(),
      withEvent: fc.boolean(),
      eventStatus: fc.constantFrom('active' as const, 'canceled' as const),
      eventUpdatedAt: ts,
      start: fc.integer({ min: 0, max: 3 }),
    })
    .map((r) =>
      upd(
        r.status === 'active' ? 'invitee.created' : 'invitee.canceled',
        inviteePayload({
          ev: 'E1',
          inv: r.inv,
          status: r.status,
          updatedAt: r.updatedAt,
          rescheduled: r.status === 'canceled' && r.rescheduled,
          event: r.withEvent ? { status: r.eventStatus, updatedAt: r.eventUpdatedAt, startTime: `2026-06-0${r.start + 1}T15:00:00.000000Z` } : null,
        }),
      ),
    ),
  fc.record({ inv: inviteeIds, created: ts, n: fc.integer({ min: 1, max: 3 }) }).map((r) =>
    upd('invitee_no_show.created', inviteePayload({ ev: 'E1', inv: r.inv, updatedAt: at(0), noShow: { uri: `${API_NS}/N${r.n}`, created_at: r.created } }), r.created),
  ),
  fc.record({ inv: inviteeIds, env: ts }).map((r) => upd('invitee_no_show.deleted', inviteePayload({ ev: 'E1', inv: r.inv, updatedAt: at(0) }), r.env)),
);

/** A sequence of deliveries for one event (E1), plus a reordering of it with duplicates (every delivery at least once). */
export const scenarioArb = fc
  .array(deliveryArb, { minLength: 1, maxLength: 12 })
  .chain((seq) =>
    fc
      .tuple(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: seq.length, maxLength: seq.length }),
        fc.array(fc.tuple(fc.nat({ max: seq.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 6 }),
      )
      .map(([keys, dups]) => {
        const tagged = [...seq.map((u, i) => ({ u, k: keys[i] as number })), ...dups.map(([i, k]) => ({ u: seq[i] as MeetingUpdate, k }))];
        tagged.sort((a, b) => a.k - b.k);
        return { seq, shuffled: tagged.map((t) => t.u) };
      }),
  );

