// Following the active master: a view of masters/active (what the election's leader publishes)
// over ZooKeeper's one-shot watches. Workers use it to move their master calls (registration,
// reports, the legacy sanity check) to a standby that took over; clients use it to find the master.
//
// The view keeps the last master it saw while masters/active is missing (between a leader's death
// and the next election, or while the session is being replaced), so a caller always has somewhere
// to send a call; it moves on as soon as a new leader publishes itself. The watching itself is
// ZnodeWatch's (serialized reads, re-armed on every reconnection, bounded retries).
import { parseAddress, type Address } from '../../substrate/types.js';
import { decodeMasterInfo, type MasterInfo } from './codec.js';
import { ACTIVE_MASTER } from './layout.js';
import type { ZkSession } from '../../substrate/zookeeper.js';
import { ZnodeWatch } from './watch.js';

/** Told when another master becomes the active one (not when masters/active merely disappears). */
/** Bound on one wait for a publication, after which waitForMaster looks at its deadline again. */
const RECHECK_MS = 1_000;

export type ActiveMasterListener = (master: MasterInfo, address: Address, previous: MasterInfo | null) => void;

/** The master's RPC address when it published a usable one (not '' and not port 0). */
export function masterAddress(info: MasterInfo): Address | undefined {
  if (!info.rpcAddress) return undefined;
  try {
    const addr = parseAddress(info.rpcAddress);
    return addr.port > 0 ? addr : undefined;
  } catch {
    return undefined;
  }
}

export class ActiveMasterTracker {
  private currentValue: { info: MasterInfo; address: Address } | undefined;
  private presentValue = false;
  private stopped = false;
  private readonly listeners = new Set<ActiveMasterListener>();
  private readonly waiters = new Set<() => void>();
  private readonly watch: ZnodeWatch<{ data: Uint8Array }>;
  /** The last unusable publication logged, so a bad znode is reported once, not on every read. */
  private lastComplaint = '';

  constructor(
    private readonly session: ZkSession,
    private readonly owner: string,
    private readonly log: (message: string) => void = () => {},
  ) {
    // After any (re)connection read again: a leader may have changed while this one was cut off.
    this.watch = new ZnodeWatch<{ data: Uint8Array }>(session, ACTIVE_MASTER, {
      read: (path, watcher) => session.getDataIfPresent(path, watcher),
      handler: (read) => this.onRead(read),
      label: `${owner}: reading ${ACTIVE_MASTER}`,
      log,
      rereadOnEveryConnect: true,
    });
  }

  /** The last active master seen with a usable address (kept while masters/active is missing). */
  get current(): { info: MasterInfo; address: Address } | undefined {
    return this.currentValue;
  }

  /** Whether masters/active existed at the last read (false between two leaders). */
  get present(): boolean {
    return this.presentValue;
  }

  onChange(listener: ActiveMasterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads once (calling listeners) and keeps watching. */
  async start(): Promise<void> {
    await this.watch.start();
  }

  /** Resolves with the active master once one with a usable address is known; rejects after timeoutMs. */
  async waitForMaster(timeoutMs: number): Promise<{ info: MasterInfo; address: Address }> {
    const clock = this.session.clock;
    const deadline = clock.nowMs() + timeoutMs;
    while (!this.currentValue) {
      if (this.stopped) throw new Error(`${this.owner}: stopped following ${ACTIVE_MASTER}`);
      const left = deadline - clock.nowMs();
      if (left <= 0) {
        throw new Error(
          `no active master published in ZooKeeper (${this.session.spec.url}${ACTIVE_MASTER}) within ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          timer.cancel();
          this.waiters.delete(done);
          resolve();
        };
        const timer = clock.setTimer(Math.min(left, RECHECK_MS), done);
        this.waiters.add(done);
      });
    }
    return this.currentValue;
  }

  stop(): void {
    this.stopped = true;
    this.watch.stop();
    for (const w of [...this.waiters]) w();
  }

  private onRead(read: { data: Uint8Array } | null): void {
    this.presentValue = read !== null;
    if (read === null || this.stopped) return;
    const info = decodeMasterInfo(ACTIVE_MASTER, read.data);
    const address = info ? masterAddress(info) : undefined;
    if (!info || !address) {
      const complaint = info ? `${info.name} published no usable RPC address ('${info.rpcAddress}')` : 'unreadable';
      if (complaint !== this.lastComplaint) this.log(`${this.owner}: ${ACTIVE_MASTER} ${complaint}; ignored`);
      this.lastComplaint = complaint;
      return;
    }
    const previous = this.currentValue?.info ?? null;
    if (previous && previous.name === info.name && previous.rpcAddress === info.rpcAddress && previous.pid === info.pid)
      return;
    this.currentValue = { info, address };
    for (const w of [...this.waiters]) w();
    for (const l of [...this.listeners]) {
      try {
        l(info, address, previous);
      } catch (err) {
        this.log(`${this.owner}: active-master listener failed: ${(err as Error).message}`);
      }
    }
  }
}
