import { createConnectionsHandler } from '../edge/connections.js';
import { connectionDeps } from '../wiring/connections.js';

/** GET/DELETE /connections/calendly, POST /connections/calendly/connect and /reconnect */
export const handler = createConnectionsHandler(connectionDeps);
