import type { Random, Substrate } from '../types.js';
import { RealClock } from './clock.js';
import { RealDisk } from './disk.js';
import { TcpNetwork, type TcpNetworkOptions } from './network.js';

export { RealClock, RealDisk, TcpNetwork };
export {
  REAL_NETWORK_LIMITS,
  DEFAULT_MAX_FRAME_BYTES,
  TcpConnection,
  type NetworkStats,
  type RealNetworkLimits,
  type TcpNetworkOptions,
} from './network.js';
export { PSK_CIPHERS, PSK_IDENTITY, type LinkSecurity } from './tls.js';

/** A real substrate; its network is a TcpNetwork (TLS when options.security is set). */
export interface RealSubstrate extends Substrate {
  readonly network: TcpNetwork;
}

export function realSubstrate(options: TcpNetworkOptions = {}): RealSubstrate {
  const random: Random = { next: () => Math.random() };
  return {
    clock: new RealClock(),
    network: new TcpNetwork(options),
    disk: new RealDisk(),
    random,
    pid: process.pid,
  };
}
