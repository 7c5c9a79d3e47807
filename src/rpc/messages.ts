// Wire messages, one per frame, as JSON. Short keys keep small calls small.
import type { WireError } from './errors.js';

/**
 * The first frame a client sends: who it is (the login). Authentication is not here: with link
 * security the network is TLS, and only a peer that proved the key or certificate gets this far.
 */
export interface HelloMessage {
  t: 'hello';
  /** The connecting node's name. */
  node: string;
}

export interface WelcomeMessage {
  t: 'welcome';
  node: string;
}

export interface RequestMessage {
  t: 'req';
  id: number;
  m: string;
  a: unknown;
  /** Caller node and logical thread: the cross-node wait-for link. */
  cn: string;
  ct: number;
}

export interface ResponseMessage {
  t: 'res';
  id: number;
  r?: unknown;
  e?: WireError;
}

export type WireMessage = HelloMessage | WelcomeMessage | RequestMessage | ResponseMessage;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encode(msg: WireMessage): Uint8Array {
  return encoder.encode(JSON.stringify(msg));
}

export function decode(frame: Uint8Array): WireMessage {
  const v = JSON.parse(decoder.decode(frame)) as unknown;
  if (typeof v !== 'object' || v === null || typeof (v as { t?: unknown }).t !== 'string') {
    throw new Error('malformed frame: not a rollcall message');
  }
  return v as WireMessage;
}
