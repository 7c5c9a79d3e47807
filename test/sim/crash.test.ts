// The simulator fails loudly: protocol code broken on purpose (an assertion, an exception, an
// invariant) makes `rollcall simulate` exit 1 with what broke and a replay line — never a result.
// Each case patches one method of the real protocol code for the length of one test.
import { afterEach, describe, expect, it } from 'vitest';
import { Procedure } from '../../src/barrier/procedure.js';
import { ZkCoordinatorRpcs } from '../../src/coordination/zookeeper/coordinator-rpcs.js';
import { LeaderElection } from '../../src/coordination/zookeeper/election.js';
import { ZkMemberRpcs } from '../../src/coordination/zookeeper/member-rpcs.js';
import type { ZkStateChange } from '../../src/substrate/zookeeper.js';
import { assert } from '../../src/util/assert.js';
import { runCli } from '../support/cli.js';

const restores: (() => void)[] = [];
afterEach(() => {
  for (const r of restores.splice(0)) r();
});

/** Replaces a method on a prototype until the test ends. */
function sabotage<T extends object>(
  proto: T,
  method: string,
  replacement: (this: T, ...args: never[]) => unknown,
): void {
  const p = proto as Record<string, unknown>;
  const original = p[method];
  expect(typeof original).toBe('function');
  p[method] = replacement;
  restores.push(() => {
    p[method] = original;
  });
}

interface Crash {
  message: string;
  replay: string[];
}

/** Runs simulate and expects a crash: exit 1, a CRASH line, and a replay line (parsed to argv). */
async function expectCrash(args: string[], kind: string, what: RegExp): Promise<Crash> {
  const r = await runCli(['simulate', ...args]);
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^rollcall simulate: CRASH \\(${kind}\\) at virtual [\\d.]+ ms, seed \\d+`));
  expect(lines[0]).toMatch(what);
  expect(lines[1]).toMatch(/^replay: rollcall simulate /);
  expect(r.stdout).toBe('');
  return { message: lines[0]!, replay: shellWords(lines[1]!.slice('replay: rollcall '.length)) };
}

/** Splits a replay line as a shell would (words, single quotes). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe('a simulated run that meets a bug is a crash, with a replay line', () => {
  it('an assertion that fails in the coordinator (RPC coordination), even though the protocol caught it', async () => {
    sabotage(Procedure.prototype, 'barrierReleasedByMember', function () {
      assert(false, 'deliberately broken: a member finished twice');
    });
    const crash = await expectCrash(
      ['--nodes', '3', '--mode', 'fixed', '--seed', '4'],
      'assertion',
      /deliberately broken: a member finished twice/,
    );
    expect(crash.replay).toEqual(expect.arrayContaining(['--nodes', '3', '--mode', 'fixed', '--seed', '4']));
  });

  it('an exception in the ZooKeeper member, swallowed by its watch, crashes the run and names the seed of the sweep', async () => {
    sabotage(ZkMemberRpcs.prototype, 'onReachedDir', function () {
      throw new TypeError('deliberately broken: reached/ listing');
    });
    const crash = await expectCrash(
      ['--coordination', 'zookeeper', '--nodes', '3', '--mode', 'fixed', '--seed', '9', '--seeds', '3'],
      'exception',
      /TypeError: deliberately broken: reached\/ listing/,
    );
    expect(crash.message).toMatch(/seed 9, 3 workers/);
    expect(crash.replay).toEqual(expect.arrayContaining(['--coordination', 'zookeeper', '--seed', '9']));
    expect(crash.replay).not.toContain('--seeds');
  });

  it('a coordinator that never cleans up breaks znodes-clean; the replay line reproduces the crash exactly', async () => {
    sabotage(ZkCoordinatorRpcs.prototype, 'resetMembers', async function () {});
    const first = await expectCrash(
      ['--coordination', 'zookeeper', '--nodes', '4', '--mode', 'fixed', '--faults', 'crash=worker-2@5ms'],
      'invariant',
      /invariant znodes-clean broken: .*\/procedures\/rolllog-proc\//,
    );
    expect(first.replay).toEqual(expect.arrayContaining(['--faults', 'crash=worker-2@5ms']));
    const again = await expectCrash(first.replay.slice(1), 'invariant', /znodes-clean/);
    expect(again.message).toBe(first.message);
  });

  it('a master that keeps leading after losing its connection breaks one-active-coordinator', async () => {
    // The step-down on 'disconnected' removed: a master whose session expired leads on, blind.
    sabotage(LeaderElection.prototype, 'onSessionState', function (this: LeaderElection, change: ZkStateChange) {
      const self = this as unknown as { setLeader(l: boolean, r: string): void; wake?: () => void; znode?: string };
      if (change.state === 'expired' || change.state === 'closed') {
        self.setLeader(false, `ZooKeeper session ${change.state}`);
        self.znode = undefined;
      }
      self.wake?.();
    } as never);
    await expectCrash(
      [
        '--coordination',
        'zookeeper',
        '--nodes',
        '3',
        '--mode',
        'fixed',
        '--seed',
        '11',
        '--faults',
        'expire=master@250ms',
      ],
      'invariant',
      /invariant one-active-coordinator broken at virtual [\d.]+ ms: master and master-2 are both active masters/,
    );
  });

  it('with --json, the partial report carries the crash and its replay command', async () => {
    sabotage(ZkCoordinatorRpcs.prototype, 'resetMembers', async function () {});
    const r = await runCli(['simulate', '--coordination', 'zookeeper', '--nodes', '3', '--mode', 'fixed', '--json']);
    expect(r.code).toBe(1);
    const o = JSON.parse(r.stdout) as { crash: { kind: string; replay: string; seed: number; nodes: number } };
    expect(o.crash).toMatchObject({ kind: 'invariant', seed: 1, nodes: 3 });
    expect(o.crash.replay).toMatch(/^rollcall simulate .*--coordination zookeeper/);
  });
});
