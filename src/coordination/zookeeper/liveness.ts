// Member liveness, the first thing rollcall does beyond HBase: every member holds an ephemeral
// znode members/<member> for as long as its ZooKeeper session lives. HBase's barrier znodes are
// persistent, so a member that dies mid-barrier is noticed only when the procedure timer fires
// (60 s); here the coordinator watches members/ and learns of the death when the server expires
// the session (the session timeout, seconds), and the procedure aborts naming the member.
import type { ZkSession } from '../../substrate/zookeeper.js';
import { MEMBERS_DIR, liveMemberNode } from './layout.js';
import { ChildWatch } from './watch.js';

export type DepartureListener = (member: string) => void;

export class MemberLiveness {
  private live = new Set<string>();
  private readonly listeners = new Set<DepartureListener>();
  private readonly watch: ChildWatch;
  private started: Promise<void> | undefined;
  private listed = false;

  constructor(
    private readonly session: ZkSession,
    log: (message: string) => void = () => {},
  ) {
    this.watch = new ChildWatch(session, MEMBERS_DIR, (children) => this.update(children ?? []), log);
  }

  /** Lists members/ once and keeps watching; idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.session.mkdirp(MEMBERS_DIR);
      await this.watch.start();
    })();
    return this.started;
  }

  /** Called once per member whose ephemeral znode disappeared; returns an unsubscribe function. */
  onDeparture(listener: DepartureListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True once members/ was listed. */
  get isStarted(): boolean {
    return this.listed;
  }

  /** Members in the last listing. */
  liveMembers(): ReadonlySet<string> {
    return this.live;
  }

  /**
   * The members of `expected` without a live session. The watched view may lag a registration
   * by one round trip, so anyone it lacks is checked against the server before being declared dead.
   */
  async missing(expected: readonly string[]): Promise<string[]> {
    await this.start();
    const suspects = expected.filter((m) => !this.live.has(m));
    if (suspects.length === 0) return [];
    const present = await Promise.all(suspects.map((m) => this.session.exists(liveMemberNode(m))));
    return suspects.filter((_, i) => present[i] === null);
  }

  stop(): void {
    this.watch.stop();
    this.listeners.clear();
  }

  private update(children: string[]): void {
    const now = new Set(children);
    const departed = [...this.live].filter((m) => !now.has(m));
    this.live = now;
    this.listed = true;
    for (const m of departed) for (const l of [...this.listeners]) l(m);
  }
}
