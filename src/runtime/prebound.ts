// Binds a node's RPC listener before the node is built, so what depends on the bound address (a
// worker's default name, worker@HOST:PORT, with the port the kernel picked for :0) is known when
// the node is constructed. The node's server then receives this listener from its substrate.
import type { Address, Connection, Network, Substrate } from '../substrate/types.js';

export interface Prebound {
  /** The substrate to build the node with: its first listen() at `address` gets the bound listener. */
  substrate: Substrate;
  address: Address;
  /** Closes the listener if the node never took it (it failed before starting). */
  release(): Promise<void>;
}

export async function listenFirst(substrate: Substrate, addr: Address): Promise<Prebound> {
  let handler: ((c: Connection) => void) | undefined;
  let claimed = false;
  // Until the node's server takes over, a connection has no one to serve it: peers retry.
  const listener = await substrate.network.listen(addr, (c) => (handler ? handler(c) : c.close()));
  const bound = listener.address;
  const network: Network = {
    listen: (a, onConnection) => {
      if (!claimed && a.host === bound.host && a.port === bound.port) {
        claimed = true;
        handler = onConnection;
        return Promise.resolve(listener);
      }
      return substrate.network.listen(a, onConnection);
    },
    connect: (a, options) => substrate.network.connect(a, options),
  };
  return {
    substrate: { ...substrate, network },
    address: bound,
    release: () => (claimed ? Promise.resolve() : listener.close()),
  };
}
