/**
 * The embedded DynamoDB-compatible store: dynalite in this process, on LevelDB under
 * `<DATA_DIR>/dynamodb` (or in memory for ':memory:'), with every table created from the shared
 * definitions (functions/store/tables.ts). Creating is idempotent, so a restart keeps the data.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClients } from '../functions/adapters/dynamo.js';
import { createTables } from '../functions/store/provision.js';
import { TABLES, type TableDef, type TableKey } from '../functions/store/tables.js';

const require = createRequire(import.meta.url);

export interface LocalStore {
  endpoint: string;
  /** Physical table names, by key. */
  tables: Record<TableKey, string>;
  /** Environment variables carrying the table names (TableDef.envVar -> name). */
  tableEnv: Record<string, string>;
  raw: DynamoDBClient;
  close(): Promise<void>;
}

/**
 * LevelDB allows one process per directory. dynalite would only find out on its first request
 * and then crash the process from a callback, so open the database once here to give a clear
 * error instead.
 */
async function ensureNotLocked(path: string): Promise<void> {
  const levelRequire = createRequire(require.resolve('dynalite'));
  const { Level } = levelRequire('level') as { Level: new (p: string) => { open(): Promise<void>; close(): Promise<void> } };
  const db = new Level(path);
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') throw new Error(`${path} is in use by another process (is another local runtime using the same DATA_DIR?)`, { cause: err });
    throw err;
  }
  await db.close();
}

export const localTableName = (def: TableDef) => `calendly-${def.id}`;

export async function startLocalStore(dataDir: string): Promise<LocalStore> {
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;
  const options: Record<string, unknown> = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
  if (dataDir !== ':memory:') {
    options.path = join(dataDir, 'dynamodb');
    await mkdir(options.path as string, { recursive: true });
    await ensureNotLocked(options.path as string);
  }
  const server = dynalite(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { raw } = createDynamoClients({ endpoint, region: 'us-east-1' });
  const close = async () => {
    raw.destroy();
    // dynalite's close waits for pending LevelDB operations and closes the database.
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  };
  try {
    await createTables(raw, localTableName);
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const tables = {} as Record<TableKey, string>;
  const tableEnv: Record<string, string> = {};
  for (const [key, def] of Object.entries(TABLES) as [TableKey, TableDef][]) {
    tables[key] = localTableName(def);
    tableEnv[def.envVar] = localTableName(def);
  }
  return { endpoint, tables, tableEnv, raw, close };
}
