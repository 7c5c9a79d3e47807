// Escaping for text placed in HTML and SVG: every string from a dump (thread names, frames, lock
// descriptions) is untrusted input and must never become markup or close a <script> element.

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value for HTML and SVG. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON that is safe inside `<script type="application/json">`: `<` is escaped so no string can
 * close the element or open a comment, and U+2028/2029 so older parsers never see a line break.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Shortens to at most `max` characters, cutting the middle (thread names differ at both ends). */
export function ellipsize(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) * 0.6);
  const tail = max - 1 - head;
  return text.slice(0, head) + '…' + (tail > 0 ? text.slice(text.length - tail) : '');
}

/** `pkg.Class.method(File.java:12)` → `Class.method`: enough to recognize a frame in a small box. */
export function shortFrame(frame: string): string {
  const noLoc = frame.replace(/\(.*\)\s*$/, '');
  const parts = noLoc.split('.');
  return parts.length <= 2 ? noLoc : parts.slice(-2).join('.');
}
