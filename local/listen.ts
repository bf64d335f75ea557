/** Starting and stopping the runtime's HTTP server. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on `host:port` (0 = any free port); resolves with the port taken. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting; resolves when every connection is gone (idle ones are closed as they idle). */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // Keep-alive connections become idle only after their last response; close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    // A client holding a connection open with a request it never finishes must not keep us up.
    const force = setTimeout(() => server.closeAllConnections(), 30_000);
    force.unref();
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
