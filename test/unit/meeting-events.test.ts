import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mergeMeeting, toApiMeeting, type MeetingState, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { meetingChangeEvents, meetingChanges, type MeetingChangedEvent } from '../../functions/domain/meeting-events.js';
import { API_NS, at, inviteePayload, inviteeUri, scenarioArb, upd } from '../ingest/scenarios.js';

const booked = (inv = 'I1', minutes = 1, start?: string) =>
  upd('invitee.created', inviteePayload({ ev: 'E1', inv, updatedAt: at(minutes), event: { updatedAt: at(minutes), startTime: start } }));

/** Applies updates one by one, collecting what each write would publish. */
function replay(updates: MeetingUpdate[], userId = 'user-1') {
  let state: MeetingState | undefined;
  let version = 0;
  const perDelivery: MeetingChangedEvent[][] = [];
  for (const u of updates) {
    const after = mergeMeeting(state, u);
    const out = meetingChangeEvents({ userId, before: state, after, lastVersion: version });
    perDelivery.push(out.events);
    state = after;
    version = out.version;
  }
  return { state: state as MeetingState, version, perDelivery, events: perDelivery.flat() };
}

const kindsOf = (updates: MeetingUpdate[]) => replay(updates).perDelivery.map((evs) => evs.map((e) => e.detail.change));

describe('meetingChanges: each kind of change yields exactly one event', () => {
  it('created: the first write of a meeting, one event carrying the meeting as GET /meetings shows it', () => {
    const { events, state } = replay([booked()]);
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      source: 'calendly-connector',
      detailType: 'Meeting Changed',
      detail: { userId: 'user-1', eventUri: state.eventUri, change: 'created', version: 1, meeting: toApiMeeting(state) },
    });
    expect(events[0]?.detail.meeting.invitees.map((i) => i.email)).toEqual(['I1@example.com']);
  });

  it('a duplicate delivery, and an older one, yield nothing and use no version', () => {
    const later = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(5), email: 'new@example.com', event: { updatedAt: at(1) } }));
    expect(kindsOf([booked(), booked(), later, booked()])).toEqual([['created'], [], ['updated'], []]);
    expect(replay([booked(), booked(), later, booked()]).version).toBe(2);
  });

  it('rescheduled: the start moved', () => {
    expect(kindsOf([booked('I1', 1), booked('I1', 2, '2026-06-03T09:00:00.000000Z')])).toEqual([['created'], ['rescheduled']]);
  });

  it('rescheduled, not canceled: the only invitee rescheduled to another event', () => {
    const movedAway = upd(
      'invitee.canceled',
      inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', rescheduled: true, updatedAt: at(4), event: { status: 'canceled', updatedAt: at(4) } }),
    );
    const { perDelivery, state } = replay([booked(), movedAway]);
    expect(perDelivery[1]?.map((e) => e.detail.change)).toEqual(['rescheduled']);
    expect(perDelivery[1]?.[0]?.detail.meeting.status).toBe('canceled');
    expect(toApiMeeting(state).invitees[0]?.rescheduled).toBe(true);
  });

  it('canceled: a one-on-one cancellation reports the meeting and its invitee, one event each', () => {
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(5), event: { status: 'canceled', updatedAt: at(5) } }));
    const { perDelivery } = replay([booked(), canceled]);
    expect(perDelivery[1]?.map((e) => [e.detail.change, e.detail.version])).toEqual([
      ['canceled', 2],
      ['invitee_canceled', 3],
    ]);
    expect(perDelivery[1]?.every((e) => e.detail.meeting.status === 'canceled')).toBe(true);
  });

  it('updated: a new name for the event', () => {
    const renamed = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(3), name: 'Intro call' } }));
    const { perDelivery } = replay([booked(), renamed]);
    expect(perDelivery[1]?.map((e) => e.detail.change)).toEqual(['updated']);
    expect(perDelivery[1]?.[0]?.detail.meeting.name).toBe('Intro call');
  });

  it('invitee_added and invitee_canceled on a group event leave the meeting active', () => {
    const second = booked('I2', 2);
    const secondLeaves = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I2', status: 'canceled', updatedAt: at(6) }));
    expect(kindsOf([booked(), second, secondLeaves])).toEqual([['created'], ['invitee_added'], ['invitee_canceled']]);
    expect(toApiMeeting(replay([booked(), second, secondLeaves]).state).status).toBe('active');
  });

  it('no_show_set and no_show_cleared', () => {
    const base = { ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } };
    const set = upd('invitee_no_show.created', inviteePayload({ ...base, noShow: { uri: `${API_NS}/N1`, created_at: at(60) } }), at(60));
    const cleared = upd('invitee_no_show.deleted', inviteePayload(base), at(70));
    const { perDelivery } = replay([booked(), set, cleared]);
    expect(perDelivery.map((evs) => evs.map((e) => e.detail.change))).toEqual([['created'], ['no_show_set'], ['no_show_cleared']]);
    expect(perDelivery[1]?.[0]?.detail.meeting.invitees[0]?.noShow).toBe(true);
    expect(perDelivery[2]?.[0]?.detail.meeting.invitees[0]?.noShow).toBe(false);
  });

  it('a no-show for an invitee not known yet is stored, so it is published (as updated)', () => {
    const noShowFirst = upd('invitee_no_show.created', { uri: `${API_NS}/N1`, invitee: inviteeUri('E1', 'I2'), created_at: at(9) });
    expect(kindsOf([booked(), noShowFirst, booked('I2', 2)])).toEqual([['created'], ['updated'], ['invitee_added']]);
    expect(replay([booked(), noShowFirst, booked('I2', 2)]).state.invitees[inviteeUri('E1', 'I2')]).toBeDefined();
  });

  it('a cancellation that arrives first creates the meeting canceled; the late booking then changes nothing', () => {
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(5), event: { status: 'canceled', updatedAt: at(5) } }));
    const { perDelivery } = replay([canceled, booked()]);
    expect(perDelivery.map((evs) => evs.map((e) => e.detail.change))).toEqual([['created'], []]);
    expect(perDelivery[0]?.[0]?.detail.meeting.status).toBe('canceled');
  });

  it('meetingChanges on the same object is empty', () => {
    const s = mergeMeeting(undefined, booked());
    expect(meetingChanges(s, s)).toEqual([]);
    expect(meetingChanges(s, { ...s, updatedAt: '2031-01-01T00:00:00.000Z' })).toEqual([]);
  });
});

describe('meeting change events under any delivery order (fast-check)', () => {
  it('permutations with duplicates: versions strictly increase, a duplicate reports nothing, the last event is the final state (1,000 runs)', () => {
    fc.assert(
      fc.property(scenarioArb, ({ seq, shuffled }) => {
        const run = replay(shuffled);
        const seen = new Set<MeetingUpdate>();
        shuffled.forEach((u, i) => {
          if (seen.has(u)) expect(run.perDelivery[i]).toEqual([]);
          seen.add(u);
        });
        const versions = run.events.map((e) => e.detail.version);
        expect(versions).toEqual(versions.map((_, i) => i + 1));
        expect(run.events[0]?.detail.change).toBe('created');
        expect(run.events.filter((e) => e.detail.change === 'created')).toHaveLength(1);
        expect(run.events.at(-1)?.detail.meeting).toEqual(toApiMeeting(run.state));
        // every stored change is published, and nothing else: one write per delivery that changed the state
        let s: MeetingState | undefined;
        shuffled.forEach((u, i) => {
          const next = mergeMeeting(s, u);
          expect((run.perDelivery[i] ?? []).length > 0).toBe(next !== s);
          s = next;
        });
        // the same deliveries in order end in the same meeting content
        const inOrder = replay(seq);
        const { updatedAt: _a, ...last } = run.events.at(-1)!.detail.meeting;
        const { updatedAt: _b, ...lastInOrder } = inOrder.events.at(-1)!.detail.meeting;
        expect(last).toEqual(lastInOrder);
      }),
      { numRuns: 1000 },
    );
  }, 120_000);
});
