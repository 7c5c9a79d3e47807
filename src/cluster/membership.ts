// The master's view of its workers over RPC: who registered, from where, and whether they are still
// there. Every registration or periodic report renews a member's lease; a member not heard from for
// a whole lease is dropped (as the ZooKeeper transport drops one whose ephemeral node vanishes), and
// so is one that says it stops. Names identify members, so two live workers may not share one.
// Leases run on the substrate clock: the simulator expires them at exact virtual times.
import type { Address, Clock, TimerHandle } from '../substrate/types.js';
import { formatAddress } from '../substrate/types.js';
import { assert } from '../util/assert.js';

/** The remote type a worker sees when its name is taken (RemoteError.remoteType). */
export const DUPLICATE_NODE_ERROR = 'DuplicateNodeError';

export class DuplicateNodeError extends Error {
  override name = DUPLICATE_NODE_ERROR;
}

export interface MemberRecord {
  name: string;
  addr: Address;
  adminUrl?: string;
  lastSeenMs: number;
  lease: TimerHandle | undefined;
}

export interface MembershipOptions {
  clock: Clock;
  /** A member not heard from for this long is dropped. */
  leaseMs: number;
  maxMembers: number;
  log: (message: string) => void;
  /** Told of every member dropped (lease expired, or it stopped), after it left the membership. */
  onDropped: (member: string, why: string) => void;
}

export class Membership {
  private readonly members = new Map<string, MemberRecord>();
  private closed = false;

  constructor(private readonly options: MembershipOptions) {
    assert(options.leaseMs > 0, 'member lease must be positive');
  }

  get size(): number {
    return this.members.size;
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  get(name: string): MemberRecord | undefined {
    return this.members.get(name);
  }

  all(): MemberRecord[] {
    return [...this.members.values()];
  }

  /**
   * Registers a member or renews its lease. The same name from another address is refused while
   * the registered one is alive: two workers under one name would silently share one slot.
   */
  register(name: string, addr: Address, adminUrl: string | undefined): void {
    const now = this.options.clock.nowMs();
    const current = this.members.get(name);
    if (current && !sameAddress(current.addr, addr)) {
      const silentMs = now - current.lastSeenMs;
      if (silentMs < this.options.leaseMs) {
        throw new DuplicateNodeError(
          `worker name '${name}' is already registered by a live worker at ${formatAddress(current.addr)} ` +
            `(heard from ${Math.round(silentMs)} ms ago); give each worker a unique --name`,
        );
      }
      this.drop(current, `replaced by a worker at ${formatAddress(addr)} after ${Math.round(silentMs)} ms of silence`);
    }
    const existing = this.members.get(name);
    if (existing) {
      existing.lastSeenMs = now;
      if (adminUrl !== undefined) existing.adminUrl = adminUrl;
      return;
    }
    if (this.members.size >= this.options.maxMembers) {
      throw new Error(`too many workers (limit ${this.options.maxMembers})`);
    }
    const m: MemberRecord = { name, addr: { ...addr }, lastSeenMs: now, lease: undefined };
    if (adminUrl !== undefined) m.adminUrl = adminUrl;
    this.members.set(name, m);
    this.watch(m, this.options.leaseMs);
  }

  /** A member that stops says so; only the registered address may drop it. */
  deregister(name: string, addr: Address): boolean {
    const m = this.members.get(name);
    if (!m || !sameAddress(m.addr, addr)) return false;
    this.drop(m, 'it stopped');
    return true;
  }

  close(): void {
    this.closed = true;
    for (const m of this.members.values()) m.lease?.cancel();
  }

  /** One timer per member, firing when its lease would end; a renewal since then re-arms it. */
  private watch(m: MemberRecord, delayMs: number): void {
    m.lease = this.options.clock.setTimer(delayMs, () => {
      m.lease = undefined;
      if (this.closed || this.members.get(m.name) !== m) return;
      const silentMs = this.options.clock.nowMs() - m.lastSeenMs;
      if (silentMs >= this.options.leaseMs) {
        this.drop(m, `not heard from for ${Math.round(silentMs)} ms (lease ${this.options.leaseMs} ms)`);
      } else {
        this.watch(m, this.options.leaseMs - silentMs);
      }
    });
  }

  private drop(m: MemberRecord, why: string): void {
    m.lease?.cancel();
    m.lease = undefined;
    this.members.delete(m.name);
    this.options.log(`worker ${m.name} dropped: ${why}`);
    this.options.onDropped(m.name, why);
  }
}

function sameAddress(a: Address, b: Address): boolean {
  return a.host === b.host && a.port === b.port;
}
