import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mergeMeeting, meetingContent, toApiMeeting, type MeetingState, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { API_NS, at, eventUri, inviteePayload, inviteeUri, scenarioArb, upd } from './scenarios.js';


const fold = (updates: MeetingUpdate[], start?: MeetingState) => updates.reduce<MeetingState | undefined>((s, u) => mergeMeeting(s, u), start);

describe('mergeMeeting (pure)', () => {
  it('returns the same object for a duplicate so callers skip the write', () => {
    const u = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } }));
    const s1 = mergeMeeting(undefined, u);
    expect(mergeMeeting(s1, u)).toBe(s1);
    expect(mergeMeeting(s1, { ...u, observedAt: '2030-01-01T00:00:00.000Z' })).toBe(s1);
  });

  it('cancel before create ends canceled, and a stale create changes nothing', () => {
    const created = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } }));
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(5), event: { status: 'canceled', updatedAt: at(5) } }));
    const s = fold([canceled, created]);
    const view = toApiMeeting(s as MeetingState);
    expect(view.status).toBe('canceled');
    expect(view.invitees[0]?.status).toBe('canceled');
    expect(view.cancellation).toEqual({ canceledBy: 'Host', reason: 'sick', cancelerType: 'host' });
    expect(mergeMeeting(s, created)).toBe(s);
  });

  it('on equal timestamps canceled beats active, whichever arrives first', () => {
    const a = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(3), event: { updatedAt: at(3) } }));
    const c = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(3), event: { status: 'canceled', updatedAt: at(3) } }));
    expect(meetingContent(fold([a, c]) as MeetingState)).toBe(meetingContent(fold([c, a]) as MeetingState));
    expect(toApiMeeting(fold([a, c]) as MeetingState).status).toBe('canceled');
  });

  it('orders microsecond timestamps as instants, not strings', () => {
    const early = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: '2026-05-01T10:00:00.000900Z' }));
    const late = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: '2026-05-01T10:00:00.001Z' }));
    expect(toApiMeeting(fold([late, early]) as MeetingState).invitees[0]?.status).toBe('canceled');
  });

  it('a no-show .deleted without its own time is ordered by the envelope time', () => {
    const base = { ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } };
    const created = upd('invitee.created', inviteePayload(base));
    const set = upd('invitee_no_show.created', inviteePayload({ ...base, noShow: { uri: `${API_NS}/N1`, created_at: at(60) } }), at(60));
    const cleared = upd('invitee_no_show.deleted', inviteePayload(base), at(70));
    const setAgain = upd('invitee_no_show.created', inviteePayload({ ...base, noShow: { uri: `${API_NS}/N2`, created_at: at(80) } }), at(80));
    expect(toApiMeeting(fold([created, set]) as MeetingState).invitees[0]?.noShow).toBe(true);
    expect(toApiMeeting(fold([created, set, cleared]) as MeetingState).invitees[0]?.noShow).toBe(false);
    expect(toApiMeeting(fold([cleared, set, created]) as MeetingState).invitees[0]?.noShow).toBe(false);
    expect(toApiMeeting(fold([setAgain, cleared, set, created]) as MeetingState).invitees[0]?.noShow).toBe(true);
  });

  it('an invitee snapshot without a no-show clears one set earlier, but not one set later', () => {
    const set = upd('invitee_no_show.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(1), noShow: { uri: `${API_NS}/N1`, created_at: at(5) } }), at(5));
    const laterSnapshot = upd('invitee.canceled', inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(9) }));
    const earlierSnapshot = upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(2) }));
    expect(toApiMeeting(fold([set, earlierSnapshot]) as MeetingState).invitees[0]?.noShow).toBe(true);
    expect(toApiMeeting(fold([laterSnapshot, set]) as MeetingState).invitees[0]?.noShow).toBe(false);
    // a payload that does not mention no_show says nothing about it
    const silent = upd('invitee.canceled', { ...inviteePayload({ ev: 'E1', inv: 'I1', status: 'canceled', updatedAt: at(9) }), no_show: undefined });
    expect(silent.invitee?.noShow).toBeUndefined();
    expect(toApiMeeting(fold([set, silent]) as MeetingState).invitees[0]?.noShow).toBe(true);
  });

  it('accepts the InviteeNoShow resource shape for no-show payloads', () => {
    const u = upd('invitee_no_show.created', { uri: `${API_NS}/N1`, invitee: inviteeUri('E1', 'I1'), created_at: at(9) });
    expect(u.eventUri).toBe(eventUri('E1'));
    expect(u.noShow).toEqual({ inviteeUri: inviteeUri('E1', 'I1'), noShow: { uri: `${API_NS}/N1`, createdAt: at(9) }, at: at(9) });
  });

  it('an older payload without scheduled_event applies invitee facts only, start time unknown', () => {
    const u = upd('invitee.created', inviteePayload({ ev: 'E9', inv: 'I1', updatedAt: at(1) }));
    const view = toApiMeeting(mergeMeeting(undefined, u));
    expect(view.startTime).toBeNull();
    expect(view.status).toBe('active');
    expect(view.invitees).toHaveLength(1);
  });
});

describe('mergeMeeting convergence (fast-check)', () => {
  it('any permutation with duplicates ends in the state of applying the deliveries in order (1,000 runs)', () => {
    fc.assert(
      fc.property(scenarioArb, ({ seq, shuffled }) => {
        const inOrder = fold(seq) as MeetingState;
        const other = fold(shuffled) as MeetingState;
        expect(meetingContent(other)).toBe(meetingContent(inOrder));
        // and applying everything again changes nothing
        expect(fold(seq, other)).toBe(other);
      }),
      { numRuns: 1000 },
    );
  }, 120_000);
});
