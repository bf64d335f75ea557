import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionStatusOf, type ConnectionStatus } from '../domain/connection.js';

/** What the ingest flow needs to know of a connection: its status, or undefined when it has none. */
export interface ConnectionStatusRead {
  tableName: string;
  key: Record<string, unknown>;
  attributes: string[];
  decode(item: Record<string, unknown> | undefined): ConnectionStatus | undefined;
}

/**
 * The connection's status, or undefined when the user has no connection item. With `asGate`
 * the read can be folded into the meeting write's own read (one request fewer per delivery).
 */
export type ConnectionStatusReader = ((userId: string) => Promise<ConnectionStatus | undefined>) & {
  asGate?: (userId: string) => ConnectionStatusRead;
};

const statusOf = (item: Record<string, unknown> | undefined): ConnectionStatus | undefined => {
  const s = item?.status;
  return s === undefined ? undefined : connectionStatusOf(s);
};

/**
 * Reads only the connection's `status` (the connections item is owned by ./connections.ts; we
 * never touch its tokens). `asGate` describes the same consistent read as data, so the ingest
 * flow can have it ride in the meetings store's BatchGetItem instead of spending a request and a
 * round trip of its own.
 */
export function createConnectionStatusReader(doc: DynamoDBDocumentClient, tableName: string): ConnectionStatusReader {
  const read = async (userId: string) => {
    const res = await doc.send(
      new GetCommand({
        TableName: tableName,
        Key: { userId },
        ProjectionExpression: '#s',
        ExpressionAttributeNames: { '#s': 'status' },
        ConsistentRead: true,
      }),
    );
    return statusOf(res.Item);
  };
  return Object.assign(read, {
    asGate: (userId: string) => ({ tableName, key: { userId }, attributes: ['status'], decode: statusOf }),
  });
}
