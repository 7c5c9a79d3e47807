// The simulated network. Every node sees the Network interface; underneath, one fabric carries
// frames between endpoints as scheduled delivery events: per-message latency (base + jitter),
// drops, duplicates, reordering, partitions between node sets, and connection resets when a node
// crashes. Addresses are whatever hosts the nodes listen on (normally their names) plus ports.
import { NetworkError, formatAddress, type Address, type Connection, type Listener, type Network } from '../types.js';
import { assert, noteIfBug } from '../../util/assert.js';
import type { SimRandom } from './random.js';
import { EventKind, type EventTarget, type Scheduler, type SimEvent } from './scheduler.js';
import type { SimNode } from './node.js';

export interface LinkModel {
  /** One-way delay between two different nodes. */
  latencyMs: number;
  /** Spread added to each message's delay; see jitter. */
  jitterMs: number;
  /** uniform: + U[0, jitterMs); exponential: + Exp(mean jitterMs), a long tail. */
  jitter: 'uniform' | 'exponential';
  /** One-way delay of a node's connection to itself (loopback); jitter scales with it. */
  loopbackLatencyMs: number;
}

export interface MessageFaults {
  /** Probability that a frame is lost (the connection stays up). */
  dropRate: number;
  /** Probability that a frame is delivered twice. */
  dupRate: number;
  /** Probability that a frame is delayed by up to reorderMs extra, letting later frames pass it. */
  reorderRate: number;
  reorderMs: number;
}

export const DEFAULT_LINK: LinkModel = {
  latencyMs: 0.25,
  jitterMs: 0.05,
  jitter: 'uniform',
  loopbackLatencyMs: 0.02,
};

export const NO_MESSAGE_FAULTS: MessageFaults = { dropRate: 0, dupRate: 0, reorderRate: 0, reorderMs: 5 };

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_SIM_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Bound on open connections in a world: a connection leak ends the run instead of the heap. */
export const MAX_SIM_CONNECTIONS = 2_000_000;
/** Bound on frames held back by partitions (delivered when they heal). */
export const MAX_HELD_FRAMES = 5_000_000;
const FIRST_LISTEN_PORT = 20_000;
/** Linux's initial SYN retransmission timeout; it doubles on each retry. */
const SYN_INITIAL_RTO_MS = 1000;
const FIRST_EPHEMERAL_PORT = 40_000;

export interface NetworkStats {
  framesSent: number;
  framesDelivered: number;
  framesDropped: number;
  framesDuplicated: number;
  framesReordered: number;
  framesHeld: number;
  bytesSent: number;
  connectionsOpened: number;
  connectsRefused: number;
  connectsBlackholed: number;
  resets: number;
}

interface Partition {
  id: number;
  a: Set<string>;
  /** null: every node not in a. */
  b: Set<string> | null;
  label: string;
}

export class SimListener implements Listener {
  constructor(
    readonly fabric: SimFabric,
    readonly node: SimNode,
    readonly address: Address,
    readonly key: string,
    readonly onConnection: (conn: Connection) => void,
  ) {}
  close(): Promise<void> {
    this.fabric.unlisten(this);
    return Promise.resolve();
  }
}

/** Items waiting at an endpoint: a frame, or a close from the peer (frame null). */
interface HeldItem {
  frame: Uint8Array | null;
  error: Error | undefined;
}

/** One end of a simulated connection, owned by one node incarnation. */
export class SimEndpoint implements Connection, EventTarget {
  peer!: SimEndpoint;
  closed = false;
  /** Latest delivery time scheduled for frames this end sent: keeps each direction FIFO. */
  outLastMs = 0;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private closeHandler: ((error: Error | undefined) => void) | undefined;
  private closeError: Error | undefined;
  private closeReported = false;
  /** Frames that arrived before a frame handler was set, or while a partition held them back. */
  private backlog: HeldItem[] | null = null;
  /** Why the backlog exists: 'handler' (waiting for onFrame) or 'partition'. */
  private backlogCause: 'handler' | 'partition' | null = null;
  releaseScheduled = false;
  /** Largest frame this end accepts (setMaxFrameBytes); the fabric's limit until lowered. */
  private maxInFrameBytes: number | undefined;

  constructor(
    readonly fabric: SimFabric,
    readonly id: number,
    readonly node: SimNode,
    readonly incarnation: number,
    readonly localAddress: Address,
    readonly remoteAddress: Address,
  ) {}

  send(frame: Uint8Array): boolean {
    if (this.closed || this.node.incarnation !== this.incarnation) return false;
    if (frame.byteLength > this.fabric.maxFrameBytes) {
      this.fabric.log(
        `refusing to send a ${frame.byteLength}-byte frame (limit ${this.fabric.maxFrameBytes}); closing connection to ${formatAddress(this.remoteAddress)}`,
      );
      this.closeError = new NetworkError(`frame of ${frame.byteLength} bytes exceeds the limit`, 'EFRAME');
      this.close();
      return false;
    }
    this.fabric.transmit(this, frame);
    return true;
  }

  setMaxFrameBytes(bytes: number): void {
    assert(Number.isInteger(bytes) && bytes >= 1, `a frame limit must be a positive integer, not ${bytes}`);
    this.maxInFrameBytes = Math.min(bytes, this.fabric.maxFrameBytes);
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
    if (this.backlogCause === 'handler' && !this.releaseScheduled) {
      this.releaseScheduled = true;
      this.fabric.scheduler.post(this.fabric.scheduler.nowMs, EventKind.flush, this.node, this, null, undefined);
    }
  }

  onClose(handler: (error: Error | undefined) => void): void {
    this.closeHandler = handler;
    if (this.closed) this.reportClose();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fabric.forget(this);
    const sched = this.fabric.scheduler;
    // Like a socket: the local close callback comes asynchronously, the peer sees FIN after the
    // frames already on the wire.
    sched.post(sched.nowMs, EventKind.close, this.node, this, null, undefined);
    if (this.node.incarnation === this.incarnation) this.fabric.sendClose(this, undefined);
  }

  /** Called by the fabric when the owning node crashes: the process is gone, no callbacks. */
  die(): void {
    this.closed = true;
    this.closeReported = true;
  }

  fire(ev: SimEvent): void {
    const trace = this.fabric.scheduler.trace;
    trace.word(this.id);
    switch (ev.kind) {
      case EventKind.deliver:
        if (ev.frame !== null) trace.bytes(ev.frame);
        else trace.word(-2);
        this.receive(ev.frame, ev.error);
        return;
      case EventKind.close:
        this.reportClose();
        return;
      case EventKind.flush:
      case EventKind.release:
        this.releaseScheduled = false;
        this.drainBacklog();
        return;
      default:
        assert(false, `endpoint event of kind ${ev.kind}`);
    }
  }

  /** Holds an arriving item back (partition) or hands it to the protocol. */
  receive(frame: Uint8Array | null, error: Error | undefined): void {
    if (this.closed) return;
    if (this.backlog !== null || this.fabric.blocked(this.peer.node, this.node)) {
      const cause = this.backlog !== null ? this.backlogCause! : 'partition';
      this.hold({ frame, error }, cause);
      return;
    }
    if (frame === null) {
      this.closed = true;
      this.closeError = error;
      this.fabric.forget(this);
      this.reportClose();
      return;
    }
    if (this.frameHandler === undefined) {
      this.hold({ frame, error }, 'handler');
      return;
    }
    if (this.maxInFrameBytes !== undefined && frame.byteLength > this.maxInFrameBytes) {
      // As over TCP: an oversized frame closes the connection instead of reaching the protocol.
      const message = `received a frame of ${frame.byteLength} bytes (limit ${this.maxInFrameBytes})`;
      this.fabric.log(`${message}; closing connection to ${formatAddress(this.remoteAddress)}`);
      this.closeError = new NetworkError(message, 'EFRAME');
      this.close();
      return;
    }
    this.fabric.stats.framesDelivered++;
    try {
      this.frameHandler(frame);
    } catch (err) {
      noteIfBug(err);
      // Same contract as the TCP connection: a throwing frame handler closes the connection.
      this.fabric.log(`frame handler failed: ${(err as Error).message}; closing connection`);
      this.closeError = new NetworkError(`frame handler failed: ${(err as Error).message}`, 'EFRAME');
      this.close();
    }
  }

  get heldCount(): number {
    return this.backlog === null ? 0 : this.backlog.length;
  }

  private hold(item: HeldItem, cause: 'handler' | 'partition'): void {
    if (this.backlog === null) {
      this.backlog = [];
      this.backlogCause = cause;
      if (cause === 'partition') this.fabric.noteHeld(this);
    }
    assert(this.fabric.stats.framesHeld < MAX_HELD_FRAMES, `more than ${MAX_HELD_FRAMES} frames held by partitions`);
    if (cause === 'partition') this.fabric.stats.framesHeld++;
    this.backlog.push(item);
  }

  private drainBacklog(): void {
    const items = this.backlog;
    if (items === null) return;
    if (this.backlogCause === 'partition' && this.fabric.blocked(this.peer.node, this.node)) {
      // Partitioned again before the release arrived: wait for the next heal.
      this.fabric.noteHeld(this);
      return;
    }
    this.backlog = null;
    this.backlogCause = null;
    for (const it of items) this.receive(it.frame, it.error);
  }

  private reportClose(): void {
    if (this.closeReported || this.closeHandler === undefined) return;
    this.closeReported = true;
    this.closeHandler(this.closeError);
  }
}

/** The world's network: listeners, connections, link model, message faults and partitions. */
export class SimFabric {
  readonly stats: NetworkStats = {
    framesSent: 0,
    framesDelivered: 0,
    framesDropped: 0,
    framesDuplicated: 0,
    framesReordered: 0,
    framesHeld: 0,
    bytesSent: 0,
    connectionsOpened: 0,
    connectsRefused: 0,
    connectsBlackholed: 0,
    resets: 0,
  };
  link: LinkModel;
  faults: MessageFaults;
  private readonly listeners = new Map<string, SimListener>();
  private readonly nextPortByHost = new Map<string, number>();
  private readonly partitions: Partition[] = [];
  private readonly heldEndpoints = new Set<SimEndpoint>();
  private nextPartitionId = 1;
  private nextEndpointId = 1;
  private openEndpoints = 0;

  constructor(
    readonly scheduler: Scheduler,
    private readonly rng: SimRandom,
    link: LinkModel,
    faults: MessageFaults,
    readonly maxFrameBytes: number,
    readonly log: (message: string) => void,
  ) {
    this.link = { ...link };
    this.faults = { ...faults };
    assertLink(this.link);
    assertFaults(this.faults);
  }

  setLink(link: Partial<LinkModel>): void {
    this.link = { ...this.link, ...link };
    assertLink(this.link);
  }

  setFaults(faults: Partial<MessageFaults>): void {
    this.faults = { ...this.faults, ...faults };
    assertFaults(this.faults);
  }

  /** One-way delay of the next message from one node to another. */
  delayMs(from: SimNode, to: SimNode): number {
    const l = this.link;
    const base = from === to ? l.loopbackLatencyMs : l.latencyMs;
    const spread = from === to ? (l.jitterMs * l.loopbackLatencyMs) / Math.max(l.latencyMs, 1e-9) : l.jitterMs;
    if (spread <= 0) return base;
    return base + (l.jitter === 'uniform' ? this.rng.next() * spread : this.rng.exponential(spread));
  }

  // ---- partitions -------------------------------------------------------------------------

  /** Cuts every link between a node in `a` and a node in `b` (default: all other nodes). */
  partition(a: readonly string[], b?: readonly string[]): number {
    assert(a.length > 0, 'a partition needs at least one node on a side');
    const p: Partition = {
      id: this.nextPartitionId++,
      a: new Set(a),
      b: b === undefined ? null : new Set(b),
      label: `${a.join('|')} / ${b === undefined ? '(rest)' : b.join('|')}`,
    };
    if (p.b !== null) for (const n of p.a) assert(!p.b.has(n), `node ${n} is on both sides of a partition`);
    this.partitions.push(p);
    return p.id;
  }

  /** Heals one partition; frames it held back are delivered after a fresh link delay. */
  heal(id: number): void {
    const i = this.partitions.findIndex((p) => p.id === id);
    assert(i >= 0, `no active partition ${id}`);
    this.partitions.splice(i, 1);
    this.releaseHeld();
  }

  healAll(): void {
    this.partitions.length = 0;
    this.releaseHeld();
  }

  get activePartitions(): string[] {
    return this.partitions.map((p) => p.label);
  }

  blocked(from: SimNode, to: SimNode): boolean {
    if (this.partitions.length === 0 || from === to) return false;
    for (const p of this.partitions) {
      if (p.a.has(from.name)) {
        if (p.b === null ? !p.a.has(to.name) : p.b.has(to.name)) return true;
      } else if (p.a.has(to.name)) {
        if (p.b === null || p.b.has(from.name)) return true;
      }
    }
    return false;
  }

  noteHeld(e: SimEndpoint): void {
    this.heldEndpoints.add(e);
  }

  private releaseHeld(): void {
    for (const e of [...this.heldEndpoints]) {
      if (e.closed || e.heldCount === 0) {
        this.heldEndpoints.delete(e);
        continue;
      }
      if (this.blocked(e.peer.node, e.node) || e.releaseScheduled) continue;
      this.heldEndpoints.delete(e);
      e.releaseScheduled = true;
      // Retransmission after the heal: the held frames arrive one link delay later, in order.
      const at = Math.max(this.scheduler.nowMs + this.delayMs(e.peer.node, e.node), e.peer.outLastMs);
      e.peer.outLastMs = at;
      this.scheduler.post(at, EventKind.release, e.node, e, null, undefined);
    }
  }

  // ---- listeners and connections ----------------------------------------------------------

  listen(node: SimNode, addr: Address, onConnection: (conn: Connection) => void): SimListener {
    let port = addr.port;
    if (port === 0) {
      port = this.nextPortByHost.get(addr.host) ?? FIRST_LISTEN_PORT;
      while (this.listeners.has(`${addr.host}:${port}`)) port++;
      assert(port < FIRST_EPHEMERAL_PORT, `host ${addr.host}: out of simulated listen ports`);
      this.nextPortByHost.set(addr.host, port + 1);
    }
    const key = `${addr.host}:${port}`;
    if (this.listeners.has(key)) {
      throw new NetworkError(`cannot listen on ${key}: address already in use (EADDRINUSE)`, 'EOTHER');
    }
    const l = new SimListener(this, node, { host: addr.host, port }, key, onConnection);
    this.listeners.set(key, l);
    node.listeners.add(l);
    return l;
  }

  unlisten(l: SimListener): void {
    if (this.listeners.get(l.key) === l) this.listeners.delete(l.key);
    l.node.listeners.delete(l);
  }

  connect(node: SimNode, incarnation: number, addr: Address, timeoutMs: number): Promise<Connection> {
    const sched = this.scheduler;
    const key = `${addr.host}:${addr.port}`;
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const timer = sched.timer(
        timeoutMs,
        () => {
          if (settled) return;
          settled = true;
          reject(new NetworkError(`connect to ${key} timed out after ${timeoutMs} ms`, 'ETIMEDOUT'));
        },
        node,
      );
      const target = this.listeners.get(key);
      const synDelayMs = target ? this.delayMs(node, target.node) : this.link.latencyMs;
      let rtoMs = SYN_INITIAL_RTO_MS;
      const arrive = (): void => {
        if (settled) return;
        const l = this.listeners.get(key);
        if (l === undefined) {
          this.stats.connectsRefused++;
          sched.timer(
            synDelayMs,
            () => {
              if (settled) return;
              settled = true;
              timer.cancel();
              reject(new NetworkError(`connect to ${key}: connection refused (ECONNREFUSED)`, 'ECONNREFUSED'));
            },
            node,
            EventKind.connect,
          );
          return;
        }
        if (this.blocked(node, l.node)) {
          // The SYN vanishes into the partition. Like a kernel, retransmit it with exponential
          // backoff until the connect timer gives up; after a heal the next one gets through.
          this.stats.connectsBlackholed++;
          sched.timer(rtoMs, arrive, node, EventKind.connect);
          rtoMs *= 2;
          return;
        }
        assert(
          this.openEndpoints + 2 <= MAX_SIM_CONNECTIONS * 2,
          `more than ${MAX_SIM_CONNECTIONS} simulated connections`,
        );
        const clientAddr = { host: node.name, port: node.allocateEphemeralPort() };
        const client = new SimEndpoint(this, this.nextEndpointId++, node, incarnation, clientAddr, l.address);
        const server = new SimEndpoint(this, this.nextEndpointId++, l.node, l.node.incarnation, l.address, clientAddr);
        client.peer = server;
        server.peer = client;
        this.adopt(client);
        this.adopt(server);
        this.stats.connectionsOpened++;
        const synAckAt = sched.nowMs + this.delayMs(l.node, node);
        // Frames the server sends on accept must not overtake the SYN-ACK.
        server.outLastMs = synAckAt;
        sched.post(
          synAckAt,
          EventKind.connect,
          node,
          {
            fire: () => {
              if (settled) {
                client.close();
                return;
              }
              settled = true;
              timer.cancel();
              resolve(client);
            },
          },
          null,
          undefined,
        );
        l.onConnection(server);
      };
      sched.timer(synDelayMs, arrive, node, EventKind.accept);
    });
  }

  transmit(from: SimEndpoint, frame: Uint8Array): void {
    const stats = this.stats;
    const f = this.faults;
    stats.framesSent++;
    stats.bytesSent += frame.byteLength;
    if (f.dropRate > 0 && this.rng.chance(f.dropRate)) {
      stats.framesDropped++;
      return;
    }
    // Copy: the sender may reuse its buffer, as it may with a socket.
    const copy = frame.slice();
    const to = from.peer;
    const now = this.scheduler.nowMs;
    let at = now + this.delayMs(from.node, to.node);
    if (f.reorderRate > 0 && this.rng.chance(f.reorderRate)) {
      stats.framesReordered++;
      at += this.rng.next() * f.reorderMs;
    } else {
      if (at < from.outLastMs) at = from.outLastMs;
      from.outLastMs = at;
    }
    this.scheduler.post(at, EventKind.deliver, to.node, to, copy, undefined);
    if (f.dupRate > 0 && this.rng.chance(f.dupRate)) {
      stats.framesDuplicated++;
      this.scheduler.post(
        at + this.delayMs(from.node, to.node),
        EventKind.deliver,
        to.node,
        to,
        copy.slice(),
        undefined,
      );
    }
  }

  /** FIN (error undefined) or RST (error set) to the peer of `from`, after the frames in flight. */
  sendClose(from: SimEndpoint, error: Error | undefined): void {
    const to = from.peer;
    const at = Math.max(this.scheduler.nowMs + this.delayMs(from.node, to.node), from.outLastMs);
    from.outLastMs = at;
    this.scheduler.post(at, EventKind.deliver, to.node, to, null, error);
  }

  /** A node crashed: its endpoints die silently, peers get a reset, its listeners vanish. */
  crashNode(node: SimNode): void {
    for (const l of [...node.listeners]) this.unlisten(l);
    for (const e of [...node.endpoints]) {
      e.die();
      this.forget(e);
      this.stats.resets++;
      this.sendClose(e, new NetworkError(`connection reset by peer ${node.name} (ECONNRESET)`, 'ECONNRESET'));
    }
  }

  forget(e: SimEndpoint): void {
    if (e.node.endpoints.delete(e)) this.openEndpoints--;
  }

  private adopt(e: SimEndpoint): void {
    e.node.endpoints.add(e);
    this.openEndpoints++;
  }

  get openConnections(): number {
    return this.openEndpoints / 2;
  }
}

/** The Network one node incarnation sees. */
export class SimNetwork implements Network {
  constructor(
    private readonly fabric: SimFabric,
    private readonly node: SimNode,
    private readonly incarnation: number,
  ) {}

  listen(addr: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    if (!this.alive) return new Promise<Listener>(() => {});
    try {
      return Promise.resolve(this.fabric.listen(this.node, addr, onConnection));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  connect(addr: Address, options?: { timeoutMs?: number }): Promise<Connection> {
    // A crashed node's leftover code waits forever, like a dead process.
    if (!this.alive) return new Promise<Connection>(() => {});
    const timeoutMs = options?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return this.fabric.connect(this.node, this.incarnation, addr, timeoutMs);
  }

  private get alive(): boolean {
    return this.node.incarnation === this.incarnation;
  }
}

function assertLink(l: LinkModel): void {
  assert(l.latencyMs >= 0 && Number.isFinite(l.latencyMs), 'latencyMs must be a finite number >= 0');
  assert(l.jitterMs >= 0 && Number.isFinite(l.jitterMs), 'jitterMs must be a finite number >= 0');
  assert(l.loopbackLatencyMs >= 0 && Number.isFinite(l.loopbackLatencyMs), 'loopbackLatencyMs must be >= 0');
}

function assertFaults(f: MessageFaults): void {
  for (const [k, v] of [
    ['dropRate', f.dropRate],
    ['dupRate', f.dupRate],
    ['reorderRate', f.reorderRate],
  ] as const) {
    assert(v >= 0 && v <= 1, `${k} must be a probability in [0, 1], not ${v}`);
  }
  assert(f.reorderMs >= 0 && Number.isFinite(f.reorderMs), 'reorderMs must be >= 0');
}
