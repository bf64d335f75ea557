import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, type DynamoDBClient, type AttributeDefinition } from '@aws-sdk/client-dynamodb';
import { ALL_TABLES, type TableDef } from './tables.js';

/**
 * Creates the tables from the shared definitions (tables.ts) — used by the local runtime and
 * the tests against dynalite. In AWS the CDK stack creates the same tables from the same list.
 */
export async function createTables(client: DynamoDBClient, names: (def: TableDef) => string): Promise<void> {
  for (const def of ALL_TABLES) {
    const attrs = new Map<string, AttributeDefinition>();
    const add = (k: { name: string; type: 'S' | 'N' } | undefined) => {
      if (k) attrs.set(k.name, { AttributeName: k.name, AttributeType: k.type });
    };
    add(def.partitionKey);
    add(def.sortKey);
    for (const idx of def.indexes) {
      add(idx.partitionKey);
      add(idx.sortKey);
    }
    try {
      await client.send(
        new CreateTableCommand({
          TableName: names(def),
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [...attrs.values()],
          KeySchema: [
            { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
            ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
          ],
          GlobalSecondaryIndexes: def.indexes.length
            ? def.indexes.map((idx) => ({
                IndexName: idx.indexName,
                KeySchema: [
                  { AttributeName: idx.partitionKey.name, KeyType: 'HASH' as const },
                  ...(idx.sortKey ? [{ AttributeName: idx.sortKey.name, KeyType: 'RANGE' as const }] : []),
                ],
                Projection: { ProjectionType: 'ALL' as const },
              }))
            : undefined,
        }),
      );
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
    // dynalite creates tables asynchronously unless createTableMs is 0; wait for ACTIVE.
    for (let i = 0; i < 200; i++) {
      const d = await client.send(new DescribeTableCommand({ TableName: names(def) }));
      if (d.Table?.TableStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
