import { createOAuthCallbackHandler } from '../edge/oauth-callback.js';
import { connectionDeps } from '../wiring/connections.js';

/** GET /oauth/calendly/callback */
export const handler = createOAuthCallbackHandler(connectionDeps);
