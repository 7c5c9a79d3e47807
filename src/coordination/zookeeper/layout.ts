// Where everything lives, relative to the chroot of the --coordination URL. The procedure part is
// HBase's procedure framework layout (ZKProcedureUtil) with the run's instance as the znode name,
// so a stale report from an earlier run of the same procedure can never land in the current one:
//
//   /procedures/<signature>/acquired/<instance>            coordinator: procedure state (JSON)
//   /procedures/<signature>/acquired/<instance>/<member>   member: acquired
//   /procedures/<signature>/reached/<instance>             coordinator: everyone acquired, go
//   /procedures/<signature>/reached/<instance>/<member>    member: done (data: its result, JSON)
//   /procedures/<signature>/abort/<instance>               anyone: a serialized ForeignException
//   /members/<member>                                      ephemeral: the member's live session
//   /masters/election/<guid>-n_<seq>                       ephemeral sequential: leader election
//   /masters/active                                        ephemeral: the leader's name and address
//
// The procedure state in acquired/<instance> (expected members, deadline, coordinator, args) is
// what lets a standby master that wins the election resume or abort a run it did not start; the
// phase is implied by which znodes exist (reached/<instance>: in the barrier; abort/<instance>:
// aborting; every member under reached/<instance>: after the barrier).
import type { ProcedureRef } from '../../barrier/transport.js';

export const PROCEDURES_DIR = '/procedures';
export const MEMBERS_DIR = '/members';
export const MASTERS_DIR = '/masters';
export const ELECTION_DIR = '/masters/election';
export const ACTIVE_MASTER = '/masters/active';

export type BarrierDir = 'acquired' | 'reached' | 'abort';
export const BARRIER_DIRS: readonly BarrierDir[] = ['acquired', 'reached', 'abort'];

/** Longest name accepted for a znode segment (ZooKeeper's own limit is far higher; names are ids). */
export const MAX_SEGMENT_CHARS = 200;
const SEGMENT = /^[A-Za-z0-9_.:@=+-]+$/;

/** Throws when `name` cannot be one znode path segment. */
export function checkSegment(kind: string, name: string): string {
  if (name.length === 0 || name.length > MAX_SEGMENT_CHARS || !SEGMENT.test(name) || name === '.' || name === '..') {
    throw new Error(
      `${kind} '${name}' cannot be a ZooKeeper znode name (1..${MAX_SEGMENT_CHARS} of letters, digits and _.:@=+-)`,
    );
  }
  return name;
}

export function signatureDir(signature: string): string {
  return `${PROCEDURES_DIR}/${checkSegment('procedure signature', signature)}`;
}

export function barrierDir(signature: string, dir: BarrierDir): string {
  return `${signatureDir(signature)}/${dir}`;
}

/** acquired/<instance>, reached/<instance> or abort/<instance> of a run. */
export function instanceNode(ref: Pick<ProcedureRef, 'signature' | 'instance'>, dir: BarrierDir): string {
  return `${barrierDir(ref.signature, dir)}/${checkSegment('procedure instance', ref.instance)}`;
}

export function memberNode(
  ref: Pick<ProcedureRef, 'signature' | 'instance'>,
  dir: 'acquired' | 'reached',
  member: string,
): string {
  return `${instanceNode(ref, dir)}/${checkSegment('member name', member)}`;
}

export function liveMemberNode(member: string): string {
  return `${MEMBERS_DIR}/${checkSegment('member name', member)}`;
}
