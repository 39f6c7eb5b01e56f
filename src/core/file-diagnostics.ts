/**
 * Diagnostics for the files users write (the agents file, scenarios, test cases): YAML or JSON
 * read with positions, checked against a TypeBox schema, and every problem reported at once as
 * `file:line:col: path: what is wrong`, sorted by position, so a mistake is found from the
 * message alone.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.js';

/** One problem in a file. */
export interface FileIssue {
  line: number;
  col: number;
  /** `agents[1].tools[0].url` */
  path: string;
  message: string;
}

/** Where a value sits in the file: the deepest node that exists on `path`. */
export type Locate = (path: (string | number)[]) => { line: number; col: number };

/** An error the catalog makes from one formatted message (ConfigError, ScenarioInvalidError). */
type CatalogErrorClass = new (message: string) => Error;

/** A parsed file: its data and where each of its values sits. */
export interface PositionedFile {
  data: unknown;
  locate: Locate;
  /** The issue at `path`, located. */
  issueAt(path: (string | number)[], message: string): FileIssue;
}

/**
 * Parses YAML or JSON (JSON is read by the YAML parser too, so both get positions the same
 * way). Syntax errors throw `ErrorClass` naming each position.
 */
export function parsePositioned(
  text: string,
  fileName: string,
  ErrorClass: CatalogErrorClass = ConfigError,
): PositionedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw fileError(
      fileName,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        return {
          line: pos.line,
          col: pos.col,
          path: '',
          message: e.message.split('\n')[0] ?? e.code,
        };
      }),
      ErrorClass,
    );
  }
  const locate: Locate = (path) => locateIn(doc, lineCounter, path);
  return {
    data: doc.toJS(),
    locate,
    issueAt: (path, message) => ({ ...locate(path), path: formatPath(path), message }),
  };
}

/** Checks `file.data` against `schema`; throws `ErrorClass` listing every problem. */
export function checkSchema<T extends TSchema>(
  schema: T,
  file: PositionedFile,
  fileName: string,
  ErrorClass: CatalogErrorClass = ConfigError,
): Static<T> {
  if (!Value.Check(schema, file.data)) {
    throw fileError(fileName, schemaIssues(schema, file.data, file.locate), ErrorClass);
  }
  return file.data as Static<T>;
}

function schemaIssues(schema: TSchema, data: unknown, locate: Locate): FileIssue[] {
  const byPath = new Map<string, FileIssue>();
  for (const e of Value.Errors(schema, data)) {
    const path = pointerToPath(e.path);
    const key = formatPath(path);
    // The first error at a path is the telling one; skip the echoes (e.g. required + type).
    if (byPath.has(key)) continue;
    // A problem inside a list item also shows up as a failed union on the parent: skip it.
    if ([...byPath.keys()].some((k) => k.startsWith(`${key}.`) || k.startsWith(`${key}[`))) {
      continue;
    }
    byPath.set(key, { ...locate(path), path: key, message: describe(e) });
  }
  return [...byPath.values()];
}

function describe(e: ValueError): string {
  const s = e.schema as TSchema & Record<string, unknown>;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known setting here (check the spelling)';
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    case ValueErrorType.StringPattern:
      return `must be ${(s.description as string | undefined) ?? `matching ${s.pattern}`}`;
    case ValueErrorType.String:
      return 'must be a text';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
      return 'must be a whole number';
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.Object:
      return 'must be a mapping (key: value)';
    case ValueErrorType.ArrayMinItems:
      return 'must list at least one item';
    case ValueErrorType.ObjectMinProperties:
      return 'must have at least one condition';
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${s.minimum}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${s.maximum}`;
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    case ValueErrorType.Union: {
      const consts = ((s.anyOf as TSchema[] | undefined) ?? [])
        .map((o) => o.const)
        .filter((c) => c !== undefined);
      if (consts.length > 0) return `must be one of ${consts.join(', ')}`;
      return `must be ${(s.description as string | undefined) ?? 'of another type'}`;
    }
    default:
      return e.message.replace(/^Expected/, 'must be');
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Position of the deepest node that exists on `path` (a missing key points at its parent). */
function locateIn(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: (string | number)[],
): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

/** The error for `issues` in `file`: one line each, `file:line:col: path: message`. */
export function fileError(
  file: string,
  unsorted: FileIssue[],
  ErrorClass: CatalogErrorClass = ConfigError,
) {
  const issues = [...unsorted].sort((a, b) => a.line - b.line || a.col - b.col);
  const lines = issues.map(
    (i) => `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`,
  );
  const err = new ErrorClass(
    lines.length === 1 ? lines.join('') : `${lines.length} problems\n${lines.join('\n')}`,
  );
  return Object.assign(err, { issues, file });
}
