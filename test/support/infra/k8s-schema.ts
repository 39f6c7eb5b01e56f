/**
 * Strict offline validation of rendered objects: every field must exist in the Kubernetes API
 * (unknown fields are errors, unlike in the upstream JSON schemas, and unlike a real apply
 * where they are silently dropped), with the right type, and required fields present.
 *
 * Built-in kinds use the model classes of @kubernetes/client-node (generated from the
 * Kubernetes 1.34 OpenAPI): `attributeTypeMap` gives field names and types, the `.d.ts`
 * declarations say which fields are required. Custom resources use the field maps in
 * crd-fields.ts, in the same notation.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CRD_KINDS, CRD_TYPES, type TypeSpec } from './crd-fields.js';

/** apiVersion + kind → model class, for the built-in kinds a deployment of this service uses. */
const BUILTIN_KINDS: Record<string, string> = {
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Namespace': 'V1Namespace',
  'v1/PersistentVolumeClaim': 'V1PersistentVolumeClaim',
  'v1/Service': 'V1Service',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'apps/v1/DaemonSet': 'V1DaemonSet',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/StatefulSet': 'V1StatefulSet',
  'autoscaling/v2/HorizontalPodAutoscaler': 'V2HorizontalPodAutoscaler',
  'networking.k8s.io/v1/Ingress': 'V1Ingress',
  'networking.k8s.io/v1/NetworkPolicy': 'V1NetworkPolicy',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
};

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

const modelsDir = join(
  dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node')),
  'gen',
  'models',
);
const cache = new Map<string, TypeSpec>();

/** Field map of a type: a client-node model class or a custom-resource type. */
function typeSpec(name: string): TypeSpec | undefined {
  const crd = CRD_TYPES[name];
  if (crd) return crd;
  const hit = cache.get(name);
  if (hit) return hit;
  const cls = (k8s as unknown as Record<string, { attributeTypeMap?: Attribute[] }>)[name];
  if (!cls?.attributeTypeMap) return undefined;
  const fields: Record<string, string> = {};
  const formats: Record<string, string> = {};
  for (const a of cls.attributeTypeMap) {
    fields[a.baseName] = a.type;
    if (a.format) formats[a.baseName] = a.format;
  }
  // Required properties are the ones declared without `?` in the generated declarations.
  const dts = readFileSync(join(modelsDir, `${name}.d.ts`), 'utf8');
  const required = [...dts.matchAll(/^\s+'([^']+)': /gm)].map((m) => m[1]!);
  const spec: TypeSpec = { fields, required, formats };
  cache.set(name, spec);
  return spec;
}

export interface SchemaIssue {
  path: string;
  message: string;
}

/** Validates one rendered object; returns every problem found. */
export function validateObject(obj: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isPlainObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    return [{ path: '', message: 'not a Kubernetes object (apiVersion and kind are required)' }];
  }
  if (obj.kind === 'Secret') return [{ path: '', message: 'Secrets are never committed' }];
  const key = `${obj.apiVersion}/${obj.kind}`;
  const type = BUILTIN_KINDS[key] ?? CRD_KINDS[key];
  if (!type) return [{ path: '', message: `no schema for ${key}` }];
  walk(obj, type, obj.kind, issues);
  return issues;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const INTEGER_FORMATS = new Set(['int32', 'int64']);

function walk(
  value: unknown,
  type: string,
  path: string,
  issues: SchemaIssue[],
  format = '',
): void {
  const problem = (message: string) => issues.push({ path, message });
  if (value === null || value === undefined) {
    problem(`is null (expected ${type})`);
    return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) {
      problem(`expected a list of ${array[1]}`);
      return;
    }
    value.forEach((v, i) => {
      walk(v, array[1]!, `${path}[${i}]`, issues);
    });
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (!isPlainObject(value)) {
      problem(`expected a map of ${map[1]}`);
      return;
    }
    for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${path}.${k}`, issues);
    return;
  }
  switch (type) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') problem(`expected a string, got ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean')
        problem(`expected true or false, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') problem(`expected a number, got ${JSON.stringify(value)}`);
      else if (INTEGER_FORMATS.has(format) && !Number.isInteger(value)) {
        problem(`expected a whole number, got ${value}`);
      }
      return;
    case 'IntOrString':
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
        problem(`expected a port/percentage (integer or string), got ${JSON.stringify(value)}`);
      }
      return;
    case 'Date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) problem('expected a date');
      return;
  }
  const spec = typeSpec(type);
  if (!spec) {
    problem(`no schema for type ${type}`);
    return;
  }
  if (!isPlainObject(value)) {
    problem(`expected an object (${type})`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const fieldType = spec.fields[k];
    if (fieldType === undefined) {
      problem(`unknown field "${k}" in ${type}`);
      continue;
    }
    walk(v, fieldType, `${path}.${k}`, issues, spec.formats?.[k] ?? '');
  }
  for (const r of spec.required) {
    if (!(r in value)) problem(`missing required field "${r}" of ${type}`);
  }
  spec.check?.(value, (message) => problem(message));
}
