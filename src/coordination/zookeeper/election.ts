// Leader election among masters, the ZooKeeper recipe: each candidate creates an ephemeral
// sequential znode under masters/election; the lowest sequence number leads; every other candidate
// watches only its predecessor (no herd effect when the leader dies). The leader publishes itself in
// the ephemeral masters/active, which workers and clients read to find it.
//
// A candidate's znode name carries its session id before the sequence number (the idea of
// Curator's "protected" mode): if the create's answer is lost, the candidate finds its own znode by
// that id instead of creating a second one that would later make it lead twice. The session id is
// unique on the server, and a candidate's znode never outlives its session.
import { decodeMasterInfo, encodeJson, type MasterInfo } from './codec.js';
import { ACTIVE_MASTER, ELECTION_DIR } from './layout.js';
import { isZkError, type ZkSession, type ZkStateChange } from '../../substrate/zookeeper.js';

export type LeadershipListener = (event: { leader: boolean; reason: string }) => void;

/** Attempts to create the candidate znode when answers are lost. */
const MAX_CREATE_ATTEMPTS = 5;
/** Bound on one wait for the predecessor, after which the candidate looks again anyway. */
const RECHECK_MS = 30_000;
const SEQUENCE = /_(\d{10})$/;

export class LeaderElection {
  private znode: string | undefined;
  private znodeGeneration = 0;
  private leader = false;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly listeners = new Set<LeadershipListener>();
  private readonly unsubscribe: () => void;
  private readonly log: (message: string) => void;

  constructor(
    private readonly session: ZkSession,
    readonly info: MasterInfo,
    log?: (message: string) => void,
  ) {
    this.log = log ?? (() => {});
    this.unsubscribe = session.onStateChange((c) => this.onSessionState(c));
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Told when this candidate becomes leader or stops being one. */
  onLeadershipChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Joins the election and resolves once this candidate leads (it may wait as a standby for long). */
  async campaign(): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.tryToLead()) return;
      } catch (err) {
        if (this.stopped || isZkError(err, 'CLOSED')) break;
        this.log(`${this.info.name}: election step failed, retrying: ${(err as Error).message}`);
        await this.waitForChange(1_000);
      }
    }
    throw new Error(`${this.info.name}: left the election before winning it`);
  }

  /** The current leader's info, or null when there is none. */
  static async activeMaster(session: ZkSession): Promise<MasterInfo | null> {
    const read = await session.getDataIfPresent(ACTIVE_MASTER);
    return read ? decodeMasterInfo(ACTIVE_MASTER, read.data) : null;
  }

  /** Leaves the election (the next candidate takes over at once) and stops. */
  async resign(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    this.wake?.();
    const wasLeader = this.leader;
    this.setLeader(false, 'resigned');
    if (this.session.state !== 'connected') return;
    try {
      if (wasLeader) {
        const active = await this.session.exists(ACTIVE_MASTER);
        if (active && active.ephemeralOwner === this.session.sessionId)
          await this.session.deleteIfPresent(ACTIVE_MASTER);
      }
      if (this.znode) await this.session.deleteIfPresent(this.znode);
    } catch (err) {
      this.log(`${this.info.name}: could not leave the election cleanly: ${(err as Error).message}`);
    }
  }

  private async tryToLead(): Promise<boolean> {
    await this.session.mkdirp(ELECTION_DIR);
    if (!this.znode || this.znodeGeneration !== this.session.generation) await this.join();
    const candidates = sortBySequence(await this.session.getChildren(ELECTION_DIR));
    const mine = this.znode!.slice(ELECTION_DIR.length + 1);
    const index = candidates.indexOf(mine);
    if (index < 0) {
      // Our znode is gone (its session ended): join again.
      this.znode = undefined;
      return false;
    }
    if (index === 0) {
      await this.publish();
      this.setLeader(true, 'won the election');
      return true;
    }
    const predecessor = `${ELECTION_DIR}/${candidates[index - 1]}`;
    // Armed before the watch is set, so a watch that fires at once is not lost.
    const changed = this.waitForChange(RECHECK_MS);
    const stat = await this.session.exists(predecessor, () => this.wake?.());
    if (stat === null) {
      this.wake?.();
      await changed;
      return false;
    }
    this.log(`${this.info.name}: standby; waiting for ${predecessor} to go`);
    await changed;
    return false;
  }

  private async join(): Promise<void> {
    const guid = this.session.sessionId;
    const prefix = `${ELECTION_DIR}/${guid}-n_`;
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt++) {
      try {
        this.znode = await this.session.create(prefix, encodeJson(this.info), 'ephemeral-sequential');
        this.znodeGeneration = this.session.generation;
        return;
      } catch (err) {
        if (!isZkError(err, 'CONNECTION_LOSS', 'OPERATION_TIMEOUT') || attempt === MAX_CREATE_ATTEMPTS) throw err;
        const found = (await this.session.getChildren(ELECTION_DIR)).find((c) => c.startsWith(`${guid}-`));
        if (found) {
          this.znode = `${ELECTION_DIR}/${found}`;
          this.znodeGeneration = this.session.generation;
          return;
        }
      }
    }
  }

  private async publish(): Promise<void> {
    const data = encodeJson(this.info);
    if (await this.session.createIfAbsent(ACTIVE_MASTER, data, 'ephemeral')) return;
    const stat = await this.session.exists(ACTIVE_MASTER);
    if (stat && stat.ephemeralOwner === this.session.sessionId) return;
    // Left by a leader that resigned without cleaning up; the election says it is ours now.
    await this.session.deleteIfPresent(ACTIVE_MASTER);
    await this.session.create(ACTIVE_MASTER, data, 'ephemeral');
  }

  /** Resolves when woken (a watch fired, the session changed) or after maxMs. */
  private waitForChange(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        timer.cancel();
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = this.session.clock.setTimer(maxMs, done);
      this.wake = done;
    });
  }

  private onSessionState(change: ZkStateChange): void {
    if (change.state === 'expired' || change.state === 'closed') {
      // The election znode died with the session: whoever is next leads now.
      this.setLeader(false, `ZooKeeper session ${change.state}`);
      this.znode = undefined;
    } else if (change.state === 'disconnected') {
      // Cut off, this candidate cannot know whether the server still holds its session: it may
      // expire any moment and a standby take over. Step down now — the client notices the silence
      // after 2/3 of the session timeout, before the server can expire the session (Curator's
      // SUSPENDED). If the session survives, the campaign finds the znode still first and leads again.
      this.setLeader(false, 'ZooKeeper connection lost');
    }
    this.wake?.();
  }

  private setLeader(leader: boolean, reason: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.log(`${this.info.name}: ${leader ? 'now the active master' : 'no longer the active master'} (${reason})`);
    for (const l of [...this.listeners]) l({ leader, reason });
  }
}

function sortBySequence(children: string[]): string[] {
  const seq = (c: string): number => Number(SEQUENCE.exec(c)?.[1] ?? Number.MAX_SAFE_INTEGER);
  return children.filter((c) => SEQUENCE.test(c)).sort((a, b) => seq(a) - seq(b));
}
