/**
 * Re-sealing every stored secret with the keyring's current key (key rotation). Which attributes
 * hold sealed values, and with which AAD, is listed here beside the stores that write them
 * (connections/tokens.ts, connections/previous-account.ts, connections/lease.ts, webhook-keys.ts,
 * oauth-states.ts): a sealed attribute added there and not here would keep its old key id, and
 * the rotation test finds it.
 *
 * Safe while traffic flows: each item is re-sealed by one conditional UpdateItem whose condition
 * is that every attribute it rewrites still holds the sealed value that was read. A concurrent
 * refresh, disconnect or rotation that wrote first wins, and this item is skipped (whatever it
 * wrote was sealed with a key of the keyring; a later pass catches it if that was not the current
 * one). Resumable: one page of a scan at a time, with the cursor to restart from.
 */
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretBox } from '../shared/crypto.js';
import type { TableKey } from './tables.js';
import { conditional } from './dynamo.js';

type Item = Record<string, unknown>;

export interface SealedField {
  attr: string;
  aad: (item: Item) => string;
}

export interface SealedTable {
  table: Extract<TableKey, 'connections' | 'webhookKeys' | 'oauthStates'>;
  key: string;
  fields: readonly SealedField[];
}

export const SEALED_TABLES: readonly SealedTable[] = [
  {
    table: 'connections',
    key: 'userId',
    fields: [
      { attr: 'accessTokenSealed', aad: (i) => `${String(i.userId)}#access` },
      { attr: 'refreshTokenSealed', aad: (i) => `${String(i.userId)}#refresh` },
      { attr: 'prevAccessTokenSealed', aad: (i) => `${String(i.userId)}#prev-access` },
      { attr: 'prevRefreshTokenSealed', aad: (i) => `${String(i.userId)}#prev-refresh` },
    ],
  },
  { table: 'webhookKeys', key: 'hookKey', fields: [{ attr: 'signingKeySealed', aad: (i) => String(i.userId) }] },
  { table: 'oauthStates', key: 'state', fields: [{ attr: 'codeVerifierSealed', aad: (i) => `oauth#${String(i.state)}` }] },
];

export interface ResealPage {
  scanned: number;
  resealed: number;
  /** Items a concurrent write changed between our read and our write. */
  skipped: number;
  /** Where the next page starts; undefined when the table is done. */
  cursor?: string;
}

const encodeCursor = (key: Item | undefined) => (key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined);
const decodeCursor = (cursor: string | undefined) => (cursor ? (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Item) : undefined);

/** Re-seals one page of one table; call again with the returned cursor until it is undefined. */
export async function resealPage(
  doc: DynamoDBDocumentClient,
  tableName: string,
  def: SealedTable,
  box: SecretBox,
  opts: { cursor?: string; pageSize?: number } = {},
): Promise<ResealPage> {
  const attrs = [...new Set([def.key, 'userId', ...def.fields.map((f) => f.attr)])];
  const page = await doc.send(
    new ScanCommand({
      TableName: tableName,
      ConsistentRead: true,
      Limit: opts.pageSize ?? 100,
      ExclusiveStartKey: decodeCursor(opts.cursor),
      ProjectionExpression: attrs.map((_, i) => `#p${i}`).join(', '),
      ExpressionAttributeNames: Object.fromEntries(attrs.map((a, i) => [`#p${i}`, a])),
    }),
  );
  const result: ResealPage = { scanned: 0, resealed: 0, skipped: 0 };
  const current = box.currentKid;
  for (const item of page.Items ?? []) {
    result.scanned++;
    const stale = def.fields.filter((f) => typeof item[f.attr] === 'string' && box.kidOf(item[f.attr] as string) !== current);
    if (stale.length === 0) continue;
    const names: Record<string, string> = { '#k': def.key };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    const conds: string[] = ['attribute_exists(#k)'];
    stale.forEach((f, i) => {
      const old = item[f.attr] as string;
      names[`#a${i}`] = f.attr;
      values[`:old${i}`] = old;
      values[`:new${i}`] = box.seal(box.open(old, f.aad(item)), f.aad(item));
      sets.push(`#a${i} = :new${i}`);
      conds.push(`#a${i} = :old${i}`);
    });
    const applied = await conditional(() =>
      doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [def.key]: item[def.key] },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conds.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
    if (applied) result.resealed++;
    else result.skipped++;
  }
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return cursor ? { ...result, cursor } : result;
}

/** Counts the sealed values per key id in a table (for the operator, and before a key is dropped). */
export async function countKeyIds(doc: DynamoDBDocumentClient, tableName: string, def: SealedTable, box: SecretBox): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let start: Item | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      for (const f of def.fields) {
        const v = item[f.attr];
        if (typeof v === 'string') {
          const kid = box.kidOf(v);
          counts[kid] = (counts[kid] ?? 0) + 1;
        }
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return counts;
}
