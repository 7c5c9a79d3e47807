import type { Random, Substrate } from '../types.js';
import { RealClock } from './clock.js';
import { RealDisk } from './disk.js';
import { TcpNetwork } from './network.js';

export { RealClock, RealDisk, TcpNetwork };

export function realSubstrate(options: { maxFrameBytes?: number; log?: (m: string) => void } = {}): Substrate {
  const random: Random = { next: () => Math.random() };
  return {
    clock: new RealClock(),
    network: new TcpNetwork(options.maxFrameBytes, options.log),
    disk: new RealDisk(),
    random,
    pid: process.pid,
  };
}
