import { describe, expect, it } from 'vitest';
import { FaultSpecError, applyFaultPlan, formatFaultPlan, parseFaultSpec } from '../../src/sim/faults.js';
import { NodeListError, parseNodeList } from '../../src/sim/nodes.js';
import { SimWorld } from '../../src/substrate/sim/index.js';
import { macrotaskHop } from '../../src/sim/drive.js';

describe('--faults spec', () => {
  it('parses the documented example', () => {
    const plan = parseFaultSpec(
      'drop=0.01,dup=0.001,partition=100ms-600ms:worker-1|worker-2,crash=worker-3@50ms,restart=worker-3@2s',
    );
    expect(plan.rates).toEqual([
      { kind: 'drop', rate: 0.01, fromMs: 0, toMs: Infinity },
      { kind: 'dup', rate: 0.001, fromMs: 0, toMs: Infinity },
    ]);
    expect(plan.partitions).toEqual([{ fromMs: 100, toMs: 600, side: ['worker-1', 'worker-2'] }]);
    expect(plan.crashes).toEqual([{ node: 'worker-3', atMs: 50 }]);
    expect(plan.restarts).toEqual([{ node: 'worker-3', atMs: 2000 }]);
    expect(parseFaultSpec(formatFaultPlan(plan))).toEqual(plan);
  });

  it('parses windows, two-sided and open partitions', () => {
    const plan = parseFaultSpec('drop=0.2@100ms-300ms,reorder=0.5,partition=1s-:master/worker-3');
    expect(plan.rates[0]).toEqual({ kind: 'drop', rate: 0.2, fromMs: 100, toMs: 300 });
    expect(plan.partitions[0]).toEqual({ fromMs: 1000, toMs: Infinity, side: ['master'], other: ['worker-3'] });
    expect(parseFaultSpec(formatFaultPlan(plan))).toEqual(plan);
  });

  it('rejects bad specs with a message naming the item', () => {
    expect(() => parseFaultSpec('drop=2')).toThrow(/drop=2.*probability/);
    expect(() => parseFaultSpec('explode=1')).toThrow(/unknown fault 'explode'/);
    expect(() => parseFaultSpec('partition=600ms-100ms:a')).toThrow(/ends before it starts/);
    expect(() => parseFaultSpec('crash=w@10ms,crash=w@20ms')).toThrow(/already down/);
    expect(() => parseFaultSpec('restart=w@10ms')).toThrow(/without an earlier crash/);
    expect(() => parseFaultSpec('partition=1s-2s:a|b/b')).toThrow(FaultSpecError);
    expect(() => parseFaultSpec('crash=w@soon')).toThrow(/not a time/);
  });

  it('applies a plan at virtual times and refuses unknown nodes', async () => {
    const w = new SimWorld({ seed: 1, hop: macrotaskHop });
    w.addNode('a');
    w.addNode('b');
    applyFaultPlan(w, parseFaultSpec('drop=0.5@10ms-20ms,partition=5ms-15ms:a,crash=b@30ms,restart=b@40ms'), 0);
    const seen: string[] = [];
    for (const t of [6, 12, 25, 35, 45]) {
      w.at(t, 'probe', () =>
        seen.push(`${t}:${w.fabric.faults.dropRate}:${w.fabric.activePartitions.length}:${w.isAlive('b')}`),
      );
    }
    await w.run(() => false);
    expect(seen).toEqual(['6:0:1:true', '12:0.5:1:true', '25:0:0:true', '35:0:0:false', '45:0:0:true']);
    const w2 = new SimWorld({ seed: 1, hop: macrotaskHop });
    w2.addNode('a');
    expect(() => applyFaultPlan(w2, parseFaultSpec('crash=zz@1ms'), 0)).toThrow(/names zz/);
  });
});

describe('--nodes list', () => {
  it('parses lists and ranges', () => {
    expect(parseNodeList('10,20,40')).toEqual([10, 20, 40]);
    expect(parseNodeList('5..20/5')).toEqual([5, 10, 15, 20]);
    expect(parseNodeList('40,1..3,10_000')).toEqual([1, 2, 3, 40, 10000]);
  });
  it('rejects nonsense', () => {
    expect(() => parseNodeList('')).toThrow(NodeListError);
    expect(() => parseNodeList('0')).toThrow(/1 to/);
    expect(() => parseNodeList('20..10')).toThrow(/ends before/);
    expect(() => parseNodeList('1..100000000')).toThrow();
    expect(() => parseNodeList('ten')).toThrow();
  });
});
