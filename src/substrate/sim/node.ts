// A simulated node's identity and what dies with it. The node outlives its incarnations: a crash
// bumps the incarnation (every event and handle stamped with the old one goes dead), a restart
// hands out a fresh substrate for the new one, and the disk state carries over.
import { assert } from '../../util/assert.js';
import type { Owner } from './scheduler.js';
import type { SimEndpoint, SimListener } from './network.js';
import type { DiskState } from './disk.js';

const FIRST_EPHEMERAL_PORT = 40_000;
const LAST_EPHEMERAL_PORT = 65_535;

export class SimNode implements Owner {
  incarnation = 0;
  alive = true;
  crashes = 0;
  readonly listeners = new Set<SimListener>();
  readonly endpoints = new Set<SimEndpoint>();
  private nextEphemeralPort = FIRST_EPHEMERAL_PORT;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly pid: number,
    readonly disk: DiskState,
  ) {}

  /** Ports for outgoing connections; they wrap like a kernel's ephemeral range. */
  allocateEphemeralPort(): number {
    const port = this.nextEphemeralPort++;
    if (this.nextEphemeralPort > LAST_EPHEMERAL_PORT) this.nextEphemeralPort = FIRST_EPHEMERAL_PORT;
    assert(port >= FIRST_EPHEMERAL_PORT, 'ephemeral port out of range');
    return port;
  }
}
