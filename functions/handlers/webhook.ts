import { makeWebhookHandler } from '../edge/webhook.js';
import { webhookDeps } from '../wiring/webhook.js';

/** POST /webhooks/calendly/{hookKey} */
export const handler = makeWebhookHandler(webhookDeps);
