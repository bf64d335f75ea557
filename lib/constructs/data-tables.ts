import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type KeyDef, type TableDef, type TableKey } from '../../functions/store/tables.js';

const attr = (k: KeyDef): Attribute => ({ name: k.name, type: k.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING });

/**
 * Every DynamoDB table, built from functions/store/tables.ts (the same definitions the local
 * runtime gives dynalite). Business data (retain: true) survives a stack delete and cannot be
 * deleted by accident; working state (OAuth states, sync cursors) goes with the stack.
 */
export class DataTables extends Construct {
  readonly byKey: Record<TableKey, TableV2>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const byKey = {} as Record<TableKey, TableV2>;
    for (const [key, def] of Object.entries(TABLES) as [TableKey, TableDef][]) {
      byKey[key] = new TableV2(this, def.id, {
        partitionKey: attr(def.partitionKey),
        ...(def.sortKey ? { sortKey: attr(def.sortKey) } : {}),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
        globalSecondaryIndexes: def.indexes.map((ix) => ({
          indexName: ix.indexName,
          partitionKey: attr(ix.partitionKey),
          ...(ix.sortKey ? { sortKey: attr(ix.sortKey) } : {}),
        })),
        deletionProtection: def.retain,
        removalPolicy: def.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    }
    this.byKey = byKey;
  }
}
