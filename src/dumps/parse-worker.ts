// A parsing worker thread: runs ParseJobs from the pool and posts their compact results back.
import { parentPort } from 'node:worker_threads';
import { FrameTable, StringInterner } from './frames.js';
import { JobRunner, type ParseJob } from './job.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker runs as a worker thread');
const runner = new JobRunner(new FrameTable(), new StringInterner());
port.on('message', (job: ParseJob) => {
  const reply = runner.run(job);
  if ('error' in reply) port.postMessage(reply);
  else {
    const w = reply.wire;
    const transfer: ArrayBuffer[] = [
      w.ints.buffer as ArrayBuffer,
      w.nums.buffer as ArrayBuffer,
      w.newStacks.buffer as ArrayBuffer,
    ];
    port.postMessage(reply, transfer);
  }
});
