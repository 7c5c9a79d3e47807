// The Tomcat harness: Debian's Tomcat 10 on its own CATALINA_BASE answers a light HTTP load.
import { afterAll, describe, expect, it } from 'vitest';
import { untilSlow } from '../support/gate.js';
import { startHttpLoad, startTomcat, tomcatForTests, type HttpLoad, type TomcatServer } from './tomcat.js';

const haveTomcat = tomcatForTests();
let tomcat: TomcatServer | undefined;
let load: HttpLoad | undefined;
afterAll(async () => {
  await load?.stop();
  await tomcat?.stop();
});

describe.skipIf(!haveTomcat)('Tomcat harness (real server)', () => {
  it('starts on a free port and serves a light load', async () => {
    tomcat = await startTomcat();
    load = startHttpLoad(tomcat.url, 2);
    await untilSlow(() => load!.requests() >= 50, '50 requests served', 30_000);
    expect(load.failures()).toBe(0);
  }, 90_000);
});
