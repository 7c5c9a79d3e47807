// Identity across samples: a key repeated within one dump gets an occurrence suffix; a key seen in
// an earlier dump is not a repeat.
import { describe, expect, it } from 'vitest';
import type { ThreadDump } from '../../src/dumps/model.js';
import { identityKeys } from '../../src/diagnose/identity.js';

const thread = (name: string, javaId?: number): ThreadDump => ({
  name,
  javaId,
  daemon: false,
  state: 'WAITING',
  stateDetail: '',
  frames: [],
  stackKey: '',
  locks: [],
  ownableSynchronizers: [],
  line: 1,
});

describe('identityKeys', () => {
  it('suffixes repeats within a dump, in order, and only within it', () => {
    const dump = [thread('A'), thread('B', 7), thread('A'), thread('A'), thread('C', 7)];
    expect(identityKeys(dump)).toEqual(['"A', '#7', '"A~2', '"A~3', '#7~2']);
    // The next dump starts afresh: the same threads get the same keys.
    expect(identityKeys(dump)).toEqual(['"A', '#7', '"A~2', '"A~3', '#7~2']);
    expect(identityKeys([thread('A'), thread('B', 7)])).toEqual(['"A', '#7']);
  });

  it('stays right past the bound on keys remembered', () => {
    for (let round = 0; round < 3; round++) {
      const many = Array.from({ length: 70_000 }, (_, i) => thread(`t${i}`));
      many.push(thread('t5'));
      const keys = identityKeys(many);
      expect(keys[5]).toBe('"t5');
      expect(keys[70_000]).toBe('"t5~2');
      expect(new Set(keys).size).toBe(keys.length);
    }
  });
});
