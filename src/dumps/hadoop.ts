// Hadoop/HBase `/stacks` servlet form (org.apache.hadoop.util.ReflectionUtils.printThreadInfo):
//   Process Thread Dump: <title>
//   171 active threads
//   Thread 302 (master:store-WAL-Roller):
//     State: TIMED_WAITING
//     Blocked count: 0            (Blocked time: / Waited time: when contention monitoring is on)
//     Waited count: 90
//     Waiting on java.lang.Object@1a2b   |   Blocked by 17 (name)
//     Stack:
//       java.lang.Object.wait(Native Method)
// Stacks are capped (HBase prints 20 frames) without a marker.
import { normalizeState, ThreadRecord, type ParseContext } from './context.js';
import { MAX_LINE_CHARS } from './model.js';

/** HBase's printThreadInfo passes a stack depth of 20. */
export const HADOOP_STACK_DEPTH = 20;

export function parseHadoopStacks(ctx: ParseContext): void {
  const text = ctx.text;
  const len = text.length;
  let pos = 0;
  let lineNo = 0;
  let thread: ThreadRecord | undefined;
  let inStack = false;
  let skipping = false;
  const end = (): void => {
    if (thread === undefined) return;
    if (thread.frames.length >= HADOOP_STACK_DEPTH) thread.truncated = true;
    ctx.addThread(thread, 'hadoop-stacks');
    thread = undefined;
  };
  while (pos < len) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = len;
    let e = nl;
    if (e > pos && text.charCodeAt(e - 1) === 13) e--;
    lineNo++;
    const start = pos;
    pos = nl + 1;
    if (ctx.current !== undefined) ctx.current.endLine = lineNo;
    if (e - start > MAX_LINE_CHARS) {
      ctx.unparsedLine(lineNo, start, e);
      continue;
    }
    let p = start;
    while (p < e && text.charCodeAt(p) === 32) p++;
    if (p === e) continue;
    const indent = p - start;
    if (indent === 0) {
      if (text.startsWith('Thread ', p) && text.endsWith('):', e)) {
        end();
        inStack = false;
        const open = text.indexOf(' (', p + 7);
        const id = open < 0 ? NaN : Number(text.slice(p + 7, open));
        if (open < 0 || !Number.isInteger(id)) {
          ctx.error(lineNo, 'malformed /stacks thread header');
          ctx.unparsedLine(lineNo, start, e);
          skipping = true;
          continue;
        }
        skipping = false;
        thread = new ThreadRecord(ctx.strings.get(text.slice(open + 2, e - 2)), lineNo);
        thread.javaId = id;
        continue;
      }
      if (text.startsWith('Process Thread Dump:', p)) {
        end();
        skipping = false;
        inStack = false;
        ctx.startDump('hadoop-stacks', lineNo);
        continue;
      }
      if (/^\d+ active threads?$/.test(text.slice(p, e))) continue;
      end();
      inStack = false;
      ctx.unparsedLine(lineNo, start, e);
      continue;
    }
    if (thread === undefined || skipping) {
      ctx.unparsedLine(lineNo, start, e);
      continue;
    }
    if (inStack && indent >= 4) {
      thread.addFrame(ctx.frames.intern(text.slice(p, e)));
      continue;
    }
    inStack = false;
    const line = text.slice(p, e);
    const colon = line.indexOf(': ');
    const value = colon < 0 ? '' : line.slice(colon + 2).trim();
    if (line === 'Stack:') inStack = true;
    else if (line.startsWith('State: ')) {
      thread.state = normalizeState(value);
      thread.stateDetail = ctx.strings.get(value);
    } else if (line.startsWith('Blocked count: ')) thread.blockedCount = Number(value);
    else if (line.startsWith('Blocked time: ')) thread.blockedTimeMs = Number(value);
    else if (line.startsWith('Waited count: ')) thread.waitedCount = Number(value);
    else if (line.startsWith('Waited time: ')) thread.waitedTimeMs = Number(value);
    else if (line.startsWith('Waiting on ')) thread.waitingOnText = ctx.strings.get(line.slice(11));
    else if (line.startsWith('Blocked by ')) thread.blockedByText = ctx.strings.get(line.slice(11));
    else if (line.startsWith('Blocked on ')) thread.waitingOnText = ctx.strings.get(line.slice(11));
    else if (line.startsWith('Inactive')) thread.state = 'TERMINATED';
    else ctx.unparsedLine(lineNo, start, e);
  }
  end();
  ctx.totalLines = lineNo;
}
