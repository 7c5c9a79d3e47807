import { describe, expect, it } from 'vitest';
import { SimWorld } from '../../src/substrate/sim/index.js';
import { SimZooKeeperServer, simZkConnector } from '../../src/substrate/sim/zookeeper/index.js';
import { macrotaskHop } from '../../src/sim/drive.js';
import { parseZkUrl } from '../../src/coordination/zookeeper/connection.js';

describe('sim zk scratch', () => {
  it('works', async () => {
    const w = new SimWorld({ seed: 1, hop: macrotaskHop, limits: { maxVirtualMs: 20000, maxEvents: 20000 } });
    const zk = w.addNode('zookeeper');
    const a = w.addNode('a');
    const b = w.addNode('b');
    const spec = parseZkUrl('zookeeper://zookeeper:2181/rc?sessionTimeoutMs=1000');
    const log: string[] = [];
    const p = (async () => {
      const server = await SimZooKeeperServer.start(zk, { listen: { host: 'zookeeper', port: 2181 } });
      const sa = await simZkConnector(spec, { owner: 'a', log: (m) => log.push(`${w.nowMs} ${m}`) }, a);
      const sb = await simZkConnector(spec, { owner: 'b', log: (m) => log.push(`${w.nowMs} ${m}`) }, b);
      sa.onStateChange((c) => log.push(`${w.nowMs} a ${c.state} ${c.generation}`));
      await sa.create('/x', new TextEncoder().encode('hi'), 'ephemeral');
      const s1 = await sa.create('/q-', undefined, 'persistent-sequential');
      const s2 = await sb.create('/q-', undefined, 'persistent-sequential');
      log.push(`seq ${s1} ${s2}`);
      const fired: string[] = [];
      const st = await sb.exists('/x', (e) => fired.push(`${w.nowMs} ${e.type} ${e.path}`));
      log.push(`stat ${JSON.stringify(st)}`);
      const d = await sb.getData('/x');
      log.push(`data ${new TextDecoder().decode(d.data)}`);
      await sa.multi([{ op: 'create', path: '/m' }, { op: 'create', path: '/m/1', data: new Uint8Array([1]) }]);
      try { await sa.multi([{ op: 'create', path: '/m/2' }, { op: 'create', path: '/m/1' }]); } catch (e) { log.push(`multi err ${(e as Error).message}`); }
      log.push(`children ${await sb.getChildren('/m')}`);
      const id = w.partition(['a'], ['zookeeper']);
      const t0 = w.nowMs;
      await new Promise<void>((r) => b.clock.setTimer(3000, r));
      log.push(`after partition: fired=${fired.join(';')} server sessions ${server.sessionCount} t0=${t0}`);
      w.heal(id);
      await new Promise<void>((r) => b.clock.setTimer(1000, r));
      log.push(`a state ${sa.state} gen ${sa.generation}`);
      log.push(`tree ${server.tree.paths().join(' ')}`);
    })();
    let st; try { st = await w.run(p); } catch (e) { console.log(log.join('\n')); throw e; }
    await p;
    console.log(st, w.nowMs, log.join('\n'));
    expect(st).toBe('done');
  });
});
