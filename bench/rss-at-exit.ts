// Preloaded (`node --import`) into a benchmarked process: at exit, writes the process's peak
// resident memory (worker threads included) to the file named by ROLLCALL_BENCH_RSS_FILE.
import { writeFileSync } from 'node:fs';

const file = process.env['ROLLCALL_BENCH_RSS_FILE'];
if (file !== undefined && file !== '') {
  process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
}
