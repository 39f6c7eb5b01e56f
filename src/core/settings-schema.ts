/**
 * Building blocks for settings fragments. Every environment variable is a string; these
 * helpers declare how it is parsed and what a valid value looks like, so that the one
 * config loader (src/core/config.ts) can name the variable and the problem in one line.
 */
/** `Present` is true when the setting always has a value (a default, or required). */
export interface Setting<T, Present extends boolean = boolean> {
  /** Type-level marker only. */
  readonly __present?: Present;
  /** What the variable is for, shown in the README's configuration table. */
  readonly doc: string;
  /** Value used when the variable is unset or empty; undefined = optional. */
  readonly default?: T;
  /** Unset is an error when true (only where the process cannot work without it). */
  readonly required?: boolean;
  /** Marks values never to be logged or echoed back. */
  readonly secret?: boolean;
  /** Parses the raw string; throws an Error whose message says what is wrong. */
  parse(raw: string): T;
}

// biome-ignore lint/suspicious/noExplicitAny: fragments mix settings of every value type
export type SettingsFragment = Record<string, Setting<any>>;

export type SettingsOf<F extends SettingsFragment> = {
  [K in keyof F]: F[K] extends Setting<infer T, infer P>
    ? P extends true
      ? T
      : T | undefined
    : never;
};

type Opts<T> = { doc: string; default?: T; required?: boolean; secret?: boolean };
type PresentOf<O> = O extends { default: unknown }
  ? true
  : O extends { required: true }
    ? true
    : false;

export function str<const O extends Opts<string> & { pattern?: RegExp; hint?: string }>(
  opts: O,
): Setting<string, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      if (opts.pattern && !opts.pattern.test(raw)) {
        throw new Error(`must be ${opts.hint ?? `matching ${opts.pattern}`}`);
      }
      return raw;
    },
  };
}

export function int<const O extends Opts<number> & { min?: number; max?: number }>(
  opts: O,
): Setting<number, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error(`must be a whole number (got "${raw}")`);
      const n = Number.parseInt(raw, 10);
      if (opts.min !== undefined && n < opts.min)
        throw new Error(`must be ≥ ${opts.min} (got ${n})`);
      if (opts.max !== undefined && n > opts.max)
        throw new Error(`must be ≤ ${opts.max} (got ${n})`);
      return n;
    },
  };
}

export function num<const O extends Opts<number> & { min?: number; max?: number }>(
  opts: O,
): Setting<number, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new Error(`must be a number (got "${raw}")`);
      if (opts.min !== undefined && n < opts.min)
        throw new Error(`must be ≥ ${opts.min} (got ${n})`);
      if (opts.max !== undefined && n > opts.max)
        throw new Error(`must be ≤ ${opts.max} (got ${n})`);
      return n;
    },
  };
}

export function bool<const O extends Opts<boolean>>(opts: O): Setting<boolean, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new Error(`must be true or false (got "${raw}")`);
    },
  };
}

export function oneOf<const T extends string, const O extends Opts<T>>(
  values: readonly T[],
  opts: O,
): Setting<T, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      if (!(values as readonly string[]).includes(raw)) {
        throw new Error(`must be one of ${values.join(', ')} (got "${raw}")`);
      }
      return raw as T;
    },
  };
}

export function url<const O extends Opts<string> & { protocols: readonly string[] }>(
  opts: O,
): Setting<string, PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new Error(`must be a URL (got "${raw}")`);
      }
      if (!opts.protocols.includes(u.protocol.replace(/:$/, ''))) {
        throw new Error(`must use ${opts.protocols.join(' or ')} (got "${u.protocol}")`);
      }
      return raw;
    },
  };
}

/** Comma-separated list; empty items are dropped. */
export function list<const O extends Opts<string[]> & { minItems?: number }>(
  opts: O,
): Setting<string[], PresentOf<O>> {
  return {
    ...opts,
    parse(raw) {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (opts.minItems !== undefined && items.length < opts.minItems) {
        throw new Error(`must list at least ${opts.minItems} comma-separated value(s)`);
      }
      return items;
    },
  };
}
