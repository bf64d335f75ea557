import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { startDynalite, type TestDynamo } from './support/dynalite.js';
import { createSecretBox, parseEncryptionKey, randomToken } from '../functions/shared/crypto.js';
import { redact } from '../functions/shared/logger.js';

describe('store tables on dynalite', () => {
  let db: TestDynamo;
  beforeAll(async () => {
    db = await startDynalite();
  });
  afterAll(async () => db.close());

  it('rejects a second create of the same item with a conditional write', async () => {
    const put = () =>
      db.doc.send(
        new PutCommand({
          TableName: db.tables.oauthStates,
          Item: { state: 's1', userId: 'u1' },
          ConditionExpression: 'attribute_not_exists(#s)',
          ExpressionAttributeNames: { '#s': 'state' },
        }),
      );
    await put();
    await expect(put()).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const got = await db.doc.send(new GetCommand({ TableName: db.tables.oauthStates, Key: { state: 's1' } }));
    expect(got.Item?.userId).toBe('u1');
  });

  it('lists meetings by start time through the byStartTime index', async () => {
    for (const [id, start] of [['b', '2026-01-02'], ['a', '2026-01-03'], ['c', '2026-01-01']] as const) {
      await db.doc.send(new PutCommand({ TableName: db.tables.meetings, Item: { userId: 'u1', eventId: id, startKey: `${start}#${id}` } }));
    }
    const q = await db.doc.send(
      new QueryCommand({
        TableName: db.tables.meetings,
        IndexName: 'byStartTime',
        KeyConditionExpression: 'userId = :u',
        ExpressionAttributeValues: { ':u': 'u1' },
      }),
    );
    expect(q.Items?.map((i) => i.eventId)).toEqual(['c', 'b', 'a']);
  });
});

describe('secret box', () => {
  const box = createSecretBox(parseEncryptionKey(Buffer.alloc(32, 7).toString('base64')));
  it('round-trips and never contains the plain text', () => {
    const secret = randomToken();
    const sealed = box.seal(secret, 'user-1');
    expect(sealed).not.toContain(secret);
    expect(box.open(sealed, 'user-1')).toBe(secret);
  });
  it('refuses to open a value sealed for another user', () => {
    const sealed = box.seal('x', 'user-1');
    expect(() => box.open(sealed, 'user-2')).toThrow();
  });
});

describe('log redaction', () => {
  it('drops secret-named attributes at any depth', () => {
    const out = JSON.stringify(redact({ user: 'u', tokens: { accessToken: 'AT', refresh_token: 'RT' }, nested: [{ signingKey: 'K' }] }));
    expect(out).not.toMatch(/AT|RT|"K"/);
    expect(out).toContain('"user":"u"');
  });
});
