import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClients } from '../../functions/adapters/dynamo.js';
import { createTables } from '../../functions/store/provision.js';
import { ALL_TABLES, type TableKey, TABLES } from '../../functions/store/tables.js';

const require = createRequire(import.meta.url);

export interface TestDynamo {
  endpoint: string;
  raw: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tables: Record<TableKey, string>;
  /** A second, independent client pair on the same store (what another Lambda would hold). */
  newClients(): { raw: DynamoDBClient; doc: DynamoDBDocumentClient };
  close(): Promise<void>;
}

/**
 * Starts dynalite in this process (in memory), creates every table from the shared
 * definitions, and returns clients. Real DynamoDB semantics: conditional writes, GSIs.
 */
export async function startDynalite(): Promise<TestDynamo> {
  const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return withTables(`http://127.0.0.1:${port}`, () => new Promise<void>((resolve) => server.close(() => resolve())));
}

/** Clients on a dynalite at `endpoint`, every table created; `stop` ends that dynalite. */
async function withTables(endpoint: string, stop: () => Promise<void>): Promise<TestDynamo> {
  const { raw, doc } = createDynamoClients({ endpoint });
  const tables = {} as Record<TableKey, string>;
  for (const [key, def] of Object.entries(TABLES) as [TableKey, (typeof ALL_TABLES)[number]][]) tables[key] = `test-${def.id}`;
  await createTables(raw, (def) => `test-${def.id}`);
  return {
    endpoint,
    raw,
    doc,
    tables,
    newClients: () => createDynamoClients({ endpoint }),
    async close() {
      raw.destroy();
      await stop();
    },
  };
}

/**
 * dynalite in a child process of its own (the bench): the store then has its own CPU, as
 * DynamoDB has, and a handler measured against it is not also paying for the store's work on
 * its own event loop. Same tables, same clients as startDynalite.
 */
export async function startDynaliteProcess(): Promise<TestDynamo> {
  const script = `const d = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
d.listen(0, '127.0.0.1', () => process.stdout.write('port ' + d.address().port + '\\n'));
process.on('disconnect', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`dynalite exited (${code}) before listening`)));
  });
  return withTables(`http://127.0.0.1:${port}`, async () => {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  });
}
