// The capture agent's HTTP interface, shared by the agent (server.ts) and capture's agent source:
//
//   GET /clock                              {"nowMs": <agent epoch ms>}
//   GET /jvms                               {"host": "...", "jvms": [JvmInfo…]}
//   GET /jvms/<pid>/ready                   {"ready": true} once the JVM's attach listener runs, else
//                                           {"ready": false, "error": "<why>"}
//   GET /jvms/<pid>/stacks?at=<epoch ms>    one dump and CPU sample taken at `at` (agent's clock)
//
// Every request carries `Authorization: Bearer <adminToken(secret)>` when the agent has a secret.
// A dump's answer is JSON: the text, its CPU sample, and the instants on the agent's clock; the
// client measures the clock offset per request (GET /clock just before) and converts them.
import { z } from 'zod';
import { CAPTURE_METHODS, type CaptureMethod } from '../../dumps/bundle.js';
import { cpuSampleSchema, type ThreadCpuSample } from '../../dumps/thread-cpu.js';

export const AGENT_VERSION = 'rollcall-agent/1';
/** How far ahead of its instant a dump may be requested. */
export const MAX_AT_AHEAD_MS = 60_000;

export interface AgentStacksAnswer {
  version: typeof AGENT_VERSION;
  pid: number;
  method: CaptureMethod;
  /** The instant asked for, when the request arrived, and when the JVM was asked (agent clock). */
  atMs: number;
  receivedAtMs: number;
  requestedAtMs?: number;
  firstByteAtMs?: number;
  finishedAtMs: number;
  status?: number;
  error?: string;
  /** The dump text (absent on error). */
  dump?: string;
  bytes: number;
  cpu?: ThreadCpuSample;
}

const methodSchema = z.enum(CAPTURE_METHODS as [CaptureMethod, ...CaptureMethod[]]);

export const stacksAnswerSchema = z.object({
  version: z.literal(AGENT_VERSION),
  pid: z.number().int(),
  method: methodSchema,
  atMs: z.number(),
  receivedAtMs: z.number(),
  requestedAtMs: z.number().optional(),
  firstByteAtMs: z.number().optional(),
  finishedAtMs: z.number(),
  status: z.number().optional(),
  error: z.string().optional(),
  dump: z.string().optional(),
  bytes: z.number(),
  cpu: cpuSampleSchema.optional(),
});

export const clockAnswerSchema = z.object({ nowMs: z.number() });
export const readyAnswerSchema = z.object({ ready: z.boolean(), error: z.string().optional() });

export const jvmListSchema = z.object({
  host: z.string(),
  jvms: z.array(
    z.object({
      pid: z.number().int(),
      uid: z.number().int(),
      user: z.string().optional(),
      mainClass: z.string(),
      command: z.string(),
      attachable: z.boolean(),
      reason: z.string().optional(),
    }),
  ),
});
export type AgentJvmList = z.infer<typeof jvmListSchema>;
