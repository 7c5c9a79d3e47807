// A parsing worker thread: runs ParseJobs from the pool and posts their compact results back.
import { parentPort } from 'node:worker_threads';
import { FrameTable } from './frames.js';
import { JobRunner, type ParseJob } from './job.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker runs as a worker thread');
const runner = new JobRunner(new FrameTable());
port.on('message', (job: ParseJob) => {
  const reply = runner.run(job);
  // The part's bytes go back too, for the reader to fill again.
  const input = job.bytes?.buffer as ArrayBuffer | undefined;
  if ('error' in reply) port.postMessage(reply);
  else {
    const w = reply.wire;
    // The three arrays share one buffer (WireEncoder.encode).
    const transfer: ArrayBuffer[] = [w.nums.buffer as ArrayBuffer];
    if (input !== undefined) transfer.push(input);
    port.postMessage({ ...reply, input }, transfer);
  }
});
