// Seeds 251..500 of the 500 CI runs (see zookeeper-seeds.ts).
import { CI_SEEDS, seedsTest } from './zookeeper-seeds.js';

seedsTest(CI_SEEDS / 2 + 1, CI_SEEDS / 2);
