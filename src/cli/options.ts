// Flag parsers shared by commands: each throws UsageError (exit 2) with a readable message.
import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} takes a whole number from ${min} to ${max}, not '${v}'`);
    }
    return n;
  };
}

export function floatOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} takes a number from ${min} to ${max}, not '${v}'`);
    }
    return n;
  };
}

/** Parses durations such as 250ms, 1s, 1.5s, 2m, or a bare number of milliseconds. */
export function durationMsOption(name: string): (v: string) => number {
  return (v: string) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
    if (!m) throw new InvalidArgumentError(`${name} takes a duration such as 500ms, 1s or 2m, not '${v}'`);
    const n = Number(m[1]);
    const unit = m[2] ?? 'ms';
    return unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000;
  };
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(choices as readonly string[]).includes(v)) {
      throw new InvalidArgumentError(`${name} is one of ${choices.join(', ')}, not '${v}'`);
    }
    return v as T;
  };
}

/** Collects a repeated flag into a list. */
export function collect(v: string, previous: string[] = []): string[] {
  return [...previous, v];
}

/** NAME=VALUE, for --url, --jvm, --cmd, --node. */
export function parseNamed(flag: string, v: string): { name: string; value: string } {
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1) throw new InvalidArgumentError(`${flag} takes NAME=VALUE, not '${v}'`);
  return { name: v.slice(0, i), value: v.slice(i + 1) };
}
