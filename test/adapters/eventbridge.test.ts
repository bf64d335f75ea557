import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createEventBridgePublisher } from '../../functions/adapters/eventbridge.js';
import { mergeMeeting } from '../../functions/domain/meeting/index.js';
import { meetingChangeEvents, type MeetingChangedEvent } from '../../functions/domain/meeting-events.js';
import { at, inviteePayload, upd } from '../ingest/scenarios.js';

// EventBridge's partial failures (some entries refused, others accepted) cannot be provoked on a
// real bus at will, so the SDK client is mocked here; the local bus test sends the same adapter
// over HTTP to the local runtime's PutEvents endpoint.
const state = mergeMeeting(undefined, upd('invitee.created', inviteePayload({ ev: 'E1', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } })));
const base = meetingChangeEvents({ userId: 'u1', before: undefined, after: state, lastVersion: 0 }).events[0]!;
const eventN = (n: number): MeetingChangedEvent => ({ ...base, detail: { ...base.detail, version: n } });
const events = (count: number) => Array.from({ length: count }, (_, i) => eventN(i + 1));
const versionsOf = (entries: { Detail?: string }[] | undefined) => (entries ?? []).map((e) => JSON.parse(e.Detail ?? '{}').version as number);

describe('EventBridge publisher (SDK client mocked with aws-sdk-client-mock)', () => {
  const client = new EventBridgeClient({ region: 'us-east-1' });
  const eb = mockClient(client);
  const sleeps: number[] = [];
  const sleeper = { sleep: async (ms: number) => void sleeps.push(ms) };
  const publisher = (maxAttempts = 4) => createEventBridgePublisher({ busName: 'meetings-bus', client, sleeper, random: () => 0.5, maxAttempts });

  beforeEach(() => {
    eb.reset();
    sleeps.length = 0;
  });

  it('sends Meeting Changed entries to the named bus, 10 per PutEvents request', async () => {
    eb.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({ FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `id-${i}` })) }));
    expect(await publisher().publish(events(23))).toEqual({ failed: [] });
    const calls = eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
    const first = calls[0]![0]!;
    expect(first).toMatchObject({ EventBusName: 'meetings-bus', Source: 'calendly-connector', DetailType: 'Meeting Changed' });
    expect(JSON.parse(first.Detail!)).toEqual(base.detail);
    expect(calls.flatMap((c) => versionsOf(c))).toEqual(events(23).map((e) => e.detail.version));
    expect(sleeps).toEqual([]);
  });

  it('resends only the entries PutEvents refused, with growing backoff', async () => {
    eb.on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 2, Entries: [{ EventId: 'a' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }, { EventId: 'c' }, { ErrorCode: 'InternalFailure' }] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: 'b' }, { ErrorCode: 'InternalFailure' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'd' }] });
    expect(await publisher().publish(events(4))).toEqual({ failed: [] });
    expect(eb.commandCalls(PutEventsCommand).map((c) => versionsOf(c.args[0].input.Entries))).toEqual([[1, 2, 3, 4], [2, 4], [4]]);
    expect(sleeps).toEqual([50, 100]);
  });

  it('answers what is still refused after the bounded tries, and publishes the other batches', async () => {
    eb.on(PutEventsCommand).callsFake((input: { Entries: { Detail: string }[] }) => ({
      FailedEntryCount: input.Entries.filter((e) => JSON.parse(e.Detail).version === 3).length,
      Entries: input.Entries.map((e) => (JSON.parse(e.Detail).version === 3 ? { ErrorCode: 'InternalFailure' } : { EventId: 'ok' })),
    }));
    const out = await publisher(3).publish(events(12));
    expect(out.failed.map((e) => e.detail.version)).toEqual([3]);
    // first batch: 1 + 2 retries of the refused entry; second batch once
    expect(eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([10, 1, 1, 2]);
  });

  it('a request that keeps failing leaves its whole batch as failed, without throwing', async () => {
    eb.on(PutEventsCommand).rejects(new Error('socket hang up'));
    const out = await publisher(2).publish(events(3));
    expect(out.failed.map((e) => e.detail.version)).toEqual([1, 2, 3]);
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('publishing nothing sends nothing', async () => {
    expect(await publisher().publish([])).toEqual({ failed: [] });
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
