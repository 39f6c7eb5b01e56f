/**
 * Argument matchers of conversation tests (`toolCalls[].args`, fixtures' `when`): each named
 * argument must match, arguments not named may be anything.
 *
 * - a text, number, true/false or null: equal (texts ignore case and surrounding spaces;
 *   "4471" also matches the number 4471, as LLMs pick either);
 * - `{ contains: text }`: a text containing it (case-insensitive);
 * - `{ matches: regex }`: a text matching the regular expression (case-insensitive);
 * - `{ oneOf: [values] }`: equal to one of them;
 * - `{ present: true | false }`: the argument is there (with any value) or not;
 * - any other mapping: an object whose named keys match, recursively; a list: the same length,
 *   item by item.
 */

const OPERATORS = ['contains', 'matches', 'oneOf', 'present'] as const;
type Operator = (typeof OPERATORS)[number];

/** A mapping with exactly one key that is an operator is an operator, not an object. */
function operatorOf(m: unknown): Operator | undefined {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const keys = Object.keys(m);
  return keys.length === 1 && (OPERATORS as readonly string[]).includes(keys[0]!)
    ? (keys[0] as Operator)
    : undefined;
}

/** Problems in a matcher mapping (bad regex, wrong operand type), with paths below it. */
export function matcherProblems(
  args: Record<string, unknown>,
): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const walk = (m: unknown, path: (string | number)[]) => {
    const op = operatorOf(m);
    const operand = op ? (m as Record<string, unknown>)[op] : undefined;
    if (op === 'contains' && typeof operand !== 'string') {
      out.push({ path: [...path, op], message: 'must be a text' });
    } else if (op === 'matches') {
      if (typeof operand !== 'string') out.push({ path: [...path, op], message: 'must be a text' });
      else {
        try {
          new RegExp(operand, 'i');
        } catch (err) {
          out.push({
            path: [...path, op],
            message: `is not a valid regular expression: ${(err as Error).message}`,
          });
        }
      }
    } else if (op === 'oneOf' && !Array.isArray(operand)) {
      out.push({ path: [...path, op], message: 'must be a list' });
    } else if (op === 'present' && typeof operand !== 'boolean') {
      out.push({ path: [...path, op], message: 'must be true or false' });
    } else if (!op && Array.isArray(m)) {
      for (const [i, item] of m.entries()) walk(item, [...path, i]);
    } else if (!op && m && typeof m === 'object') {
      for (const [k, v] of Object.entries(m)) walk(v, [...path, k]);
    }
  };
  for (const [k, v] of Object.entries(args)) walk(v, [k]);
  return out;
}

/** Whether `actual` arguments match; `why` says what did not (for the report). */
export function matchArgs(
  expected: Record<string, unknown>,
  actual: Record<string, unknown>,
): { ok: boolean; why?: string } {
  for (const [key, m] of Object.entries(expected)) {
    const why = mismatch(m, key in actual, actual[key], key);
    if (why) return { ok: false, why };
  }
  return { ok: true };
}

function mismatch(m: unknown, present: boolean, value: unknown, path: string): string | undefined {
  const op = operatorOf(m);
  const operand = op ? (m as Record<string, unknown>)[op] : undefined;
  if (op === 'present') {
    return present === operand
      ? undefined
      : `${path} is ${present ? `there (${show(value)})` : 'missing'}`;
  }
  if (!present) return `${path} is missing`;
  switch (op) {
    case 'contains':
      return typeof value === 'string' &&
        value.toLowerCase().includes(String(operand).toLowerCase())
        ? undefined
        : `${path} is ${show(value)}, which does not contain "${operand}"`;
    case 'matches':
      return typeof value === 'string' && new RegExp(String(operand), 'i').test(value)
        ? undefined
        : `${path} is ${show(value)}, which does not match /${operand}/`;
    case 'oneOf':
      return (operand as unknown[]).some((o) => equal(o, value))
        ? undefined
        : `${path} is ${show(value)}, not one of ${show(operand)}`;
  }
  if (Array.isArray(m)) {
    if (!Array.isArray(value) || value.length !== m.length) {
      return `${path} is ${show(value)}, not a list of ${m.length}`;
    }
    for (const [i, item] of m.entries()) {
      const why = mismatch(item, true, value[i], `${path}[${i}]`);
      if (why) return why;
    }
    return undefined;
  }
  if (m && typeof m === 'object') {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      return `${path} is ${show(value)}, not an object`;
    }
    const v = value as Record<string, unknown>;
    for (const [k, sub] of Object.entries(m)) {
      const why = mismatch(sub, k in v, v[k], `${path}.${k}`);
      if (why) return why;
    }
    return undefined;
  }
  return equal(m, value) ? undefined : `${path} is ${show(value)}, expected ${show(m)}`;
}

function equal(expected: unknown, value: unknown): boolean {
  if (typeof expected === 'string' || typeof value === 'string') {
    if (expected === null || value === null || typeof expected === 'object') return false;
    return String(expected).trim().toLowerCase() === String(value).trim().toLowerCase();
  }
  return JSON.stringify(expected) === JSON.stringify(value);
}

function show(v: unknown): string {
  return v === undefined ? 'missing' : JSON.stringify(v);
}

/** Texts of a `contains`-style field. */
export function textList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
