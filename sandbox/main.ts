/**
 * Runs the sandbox on its own: `npx tsx sandbox/main.ts [port]`. Prints the base URL and the
 * OAuth app credentials; Ctrl-C stops it. (`npm start` embeds it instead.)
 */
import { startSandbox } from './index.js';

const port = Number(process.argv[2] ?? process.env.SANDBOX_PORT ?? 0);
const sandbox = await startSandbox({ port, autoApprove: process.env.SANDBOX_AUTO_APPROVE !== 'false' });
console.log(
  JSON.stringify(
    {
      baseUrl: sandbox.baseUrl,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      webhookSigningKey: sandbox.webhookSigningKey,
      controls: `${sandbox.baseUrl}/__sandbox/state`,
    },
    null,
    2,
  ),
);
const stop = () => void sandbox.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
