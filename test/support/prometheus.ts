// Reading Prometheus text the way a scraper does: fetched over HTTP, parsed by a real parser
// (parse-prometheus-text-format, a port of the Prometheus Python client's), then looked up by name
// and labels.
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

export type { PromFamily };

export async function scrape(url: string, headers: Record<string, string> = {}): Promise<PromFamily[]> {
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`${url}: content-type ${type}, not Prometheus text`);
  return parsePrometheusTextFormat(await res.text());
}

/** The value of the sample of `name` whose labels include `labels`; undefined when none. */
export function sample(families: PromFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((f) => f.name === name);
  const s = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (s === undefined) return undefined;
  return Number(s.value ?? s.count);
}

/** Every sample of `name` as label sets with values. */
export function samples(families: PromFamily[], name: string): { labels: Record<string, string>; value: number }[] {
  const family = families.find((f) => f.name === name);
  return (family?.metrics ?? []).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value ?? m.count) }));
}
