export * from './types.js';
export { LogicalThread, MAX_FRAMES, type WaitObserver } from './thread.js';
export { ThreadRegistry, ROLLCALL_VERSION, MAX_THREADS_PER_NODE, type PoolReporter } from './registry.js';
export { formatDumpText, formatWait, MAX_LISTED_MEMBERS } from './text.js';
