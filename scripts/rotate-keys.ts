/**
 * The token key rotation command (the steps are explained in functions/ops/rotate-keys.ts and
 * lib/README.md, "Rotating the token key"):
 *
 *   npm run rotate-keys -- status
 *   npm run rotate-keys -- add <kid>        then wait 6 minutes (every Lambda re-reads the keyring)
 *   npm run rotate-keys -- promote <kid>    then wait 6 minutes again
 *   npm run rotate-keys -- reseal [--from <resume point>] [--page-size N]
 *   npm run rotate-keys -- drop <old kid>   refused while a stored value still needs it
 *
 * Against AWS (the default): TOKEN_KEYRING_ARN (the TokenKeyringArn output), APP_SECRET_ARN (the
 * AppSecretArn output: the pre-keyring key still opens `v1` values), CONNECTIONS_TABLE,
 * WEBHOOK_KEYS_TABLE and OAUTH_STATES_TABLE (the table outputs), AWS credentials and region as
 * for the AWS CLI. Against the local runtime: `--data-dir <DATA_DIR>` (stop the runtime first:
 * its store allows one process, and it reads the keyring when it starts).
 *
 * Prints one JSON line per step or page (a reseal page carries `resumeFrom`); never a key.
 */
import { createDynamoClients } from '../functions/adapters/dynamo.js';
import { createKeyringSecret, createSecretsManagerSource } from '../functions/adapters/secrets.js';
import { addKey, dropKey, keyIdCounts, promoteKey, resealAll, type RotationTarget } from '../functions/ops/rotate-keys.js';
import { parseEncryptionKey, parseKeyring, serializeKeyring } from '../functions/shared/crypto.js';
import { tableNamesFromEnv } from '../functions/store/tables.js';
import { localKeyringFile } from '../local/keys.js';
import { startLocalStore } from '../local/store.js';

const print = (o: unknown) => console.log(JSON.stringify(o));

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

async function target(dataDir: string | undefined): Promise<{ t: RotationTarget; close: () => Promise<void> }> {
  if (dataDir) {
    const store = await startLocalStore(dataDir);
    const { doc } = createDynamoClients({ endpoint: store.endpoint });
    return { t: { doc, tables: store.tables, keyring: localKeyringFile(dataDir) }, close: () => store.close() };
  }
  const arn = process.env.TOKEN_KEYRING_ARN;
  if (!arn) throw new Error('set TOKEN_KEYRING_ARN (the stack output TokenKeyringArn), or pass --data-dir for the local runtime');
  const secret = createKeyringSecret({ secretId: arn, maxAgeSeconds: 1 });
  const legacy = process.env.APP_SECRET_ARN ? (await createSecretsManagerSource({ secretId: process.env.APP_SECRET_ARN }).get()).tokenEncryptionKey : undefined;
  const { doc } = createDynamoClients({ endpoint: process.env.DYNAMODB_ENDPOINT || undefined });
  return {
    t: {
      doc,
      tables: tableNamesFromEnv(process.env, ['connections', 'webhookKeys', 'oauthStates']),
      keyring: { read: async () => parseKeyring(await secret.read(true)), write: (ring) => secret.write(serializeKeyring(ring)) },
      ...(legacy ? { legacyKey: parseEncryptionKey(legacy) } : {}),
    },
    close: async () => {},
  };
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const dataDir = option(args, '--data-dir');
  const from = option(args, '--from');
  const pageSize = option(args, '--page-size');
  const [command, kid] = args;
  const needKid = () => {
    if (!kid) throw new Error(`${command} needs a key id`);
    return kid;
  };
  if (!command || !['status', 'add', 'promote', 'reseal', 'drop'].includes(command)) {
    throw new Error('usage: rotate-keys status | add <kid> | promote <kid> | reseal [--from <resume point>] [--page-size N] | drop <kid>  [--data-dir <DATA_DIR>]');
  }
  const { t, close } = await target(dataDir);
  try {
    if (command === 'add') await addKey(t, needKid());
    if (command === 'promote') await promoteKey(t, needKid());
    if (command === 'drop') await dropKey(t, needKid());
    if (command === 'reseal') {
      const total = await resealAll(t, { ...(from ? { from } : {}), ...(pageSize ? { pageSize: Number(pageSize) } : {}), onPage: (p) => print({ page: p }) });
      print({ resealed: total });
    }
    const ring = await t.keyring.read();
    print({ current: ring.current, keys: ring.keys.map((k) => k.kid), sealedValuesByKeyId: await keyIdCounts(t) });
  } finally {
    await close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Errors here name key ids and tables, never key material.
  console.error(`rotate-keys: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
