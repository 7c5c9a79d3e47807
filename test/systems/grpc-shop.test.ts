// The gRPC harness itself, as the diagnosis, prediction and watch tests use it: healthy at 4
// concurrent calls, the nested-callback deadlock once raised to 16, healthy again after a restart.
import { afterAll, describe, expect, it } from 'vitest';
import { grpcForTests, startGrpcShop, type GrpcShop } from './grpc-shop.js';

const haveGrpc = grpcForTests();
let shop: GrpcShop | undefined;
afterAll(async () => {
  await shop?.stop();
});

describe.skipIf(!haveGrpc)('gRPC shop harness (real JVMs)', () => {
  it('healthy at 4, deadlocked at 16, healthy after a restart', async () => {
    shop = await startGrpcShop({ pool: 8, mode: 'nested', load: 4 });
    await shop.waitForCompleted(100);
    expect(shop.servers().map((s) => s.name)).toEqual(['orders', 'inventory']);
    await shop.load(16);
    await shop.waitForStalled();
    const before = shop.completed();
    const oldPids = shop.servers().map((s) => s.pid);
    await shop.restart({ load: 4 });
    expect(shop.servers().map((s) => s.pid)).not.toEqual(oldPids);
    await shop.waitForCompleted(100);
    expect(shop.options.load).toBe(4);
    expect(before).toBeGreaterThan(0);
  }, 120_000);
});
