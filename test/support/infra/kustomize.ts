/**
 * A small Kustomize renderer for the tests: no kubectl/kustomize binary can be installed from the
 * registries we reach (Debian's kubernetes-client 1.20 embeds kustomize 2.0, too old for these
 * overlays). It implements the subset `infra/` uses, the way kustomize v5 does, and throws on
 * anything else so an overlay can never silently render differently from `kubectl kustomize`
 * (test/infra-render.test.ts compares both when a kubectl ≥ 1.27 is on PATH).
 *
 * Supported kustomization fields: resources (files and directories), namespace, images,
 * replicas, patches (strategic-merge, from `path` or inline `patch`, optional `target` by
 * kind/name), configMapGenerator (literals, envs, files; behavior create|merge|replace;
 * options.disableNameSuffixHash), generatorOptions.disableNameSuffixHash.
 * Strategic merge: maps merge, `null` deletes, lists of built-in kinds merge by their patch
 * merge key (containers/env/volumes/... by name, volumeMounts by mountPath, ports by
 * containerPort or port), other lists (and every list of a custom resource) are replaced.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface Resource {
  obj: K8sObject;
  /** Generated ConfigMaps get a content hash suffix at the end of the build. */
  hashSuffix: boolean;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'replicas',
  'patches',
  'configMapGenerator',
  'generatorOptions',
]);

/** Kinds kustomize never puts in a namespace (the ones a deployment of this kind could carry). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'APIService',
]);

/** Built-in kinds whose lists merge by key in a strategic-merge patch. */
const BUILTIN_GROUPS = new Set([
  'v1',
  'apps/v1',
  'policy/v1',
  'autoscaling/v2',
  'networking.k8s.io/v1',
]);
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
};

/** kustomize's legacy output order: these kinds first, in this order; the rest by group/version/kind. */
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

export class KustomizeError extends Error {}

/** Renders the kustomization in `dir` like `kubectl kustomize dir`. */
export function kustomize(dir: string): K8sObject[] {
  const resources = build(resolve(dir));
  applyHashSuffixes(resources);
  return sortLegacy(resources.map((r) => r.obj));
}

function fail(where: string, message: string): never {
  throw new KustomizeError(`${where}: ${message}`);
}

function readYamlDocs(file: string): Json[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true });
  const out: Json[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fail(file, doc.errors.map((e) => e.message).join('; '));
    const value = doc.toJS() as Json;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function kustomizationFile(dir: string): string {
  for (const name of KUSTOMIZATION_FILES) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  return fail(dir, 'no kustomization.yaml');
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asK8sObject(v: Json, where: string): K8sObject {
  if (!isObject(v)) fail(where, 'a document is not a mapping');
  const meta = v.metadata;
  if (typeof v.apiVersion !== 'string' || typeof v.kind !== 'string' || !isObject(meta)) {
    fail(where, 'a document lacks apiVersion, kind or metadata');
  }
  if (typeof meta.name !== 'string' || meta.name === '') fail(where, `${v.kind} has no name`);
  return v as unknown as K8sObject;
}

function build(dir: string): Resource[] {
  const file = kustomizationFile(dir);
  const docs = readYamlDocs(file);
  if (docs.length !== 1 || !isObject(docs[0])) fail(file, 'must hold one mapping');
  const k = docs[0] as JsonObject;
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_FIELDS.has(key))
      fail(file, `field "${key}" is not supported by the test renderer`);
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization') fail(file, `kind ${String(k.kind)}`);

  const out: Resource[] = [];
  for (const entry of list(k.resources, file, 'resources')) {
    if (typeof entry !== 'string') fail(file, 'resources entries must be paths');
    if (/^[a-z]+:\/\/|^github\.com\//.test(entry)) fail(file, `remote resource ${entry}`);
    const path = resolve(dir, entry);
    if (!existsSync(path)) fail(file, `resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      out.push(...build(path));
    } else {
      for (const doc of readYamlDocs(path)) {
        const obj = asK8sObject(doc, path);
        if (obj.kind === 'List') fail(path, 'List documents are not supported');
        out.push({ obj, hashSuffix: false });
      }
    }
  }
  assertUniqueIds(out, file);

  const opts = k.generatorOptions;
  if (opts !== undefined) {
    if (!isObject(opts)) fail(file, 'generatorOptions must be a mapping');
    for (const key of Object.keys(opts)) {
      if (key !== 'disableNameSuffixHash') fail(file, `generatorOptions.${key} is not supported`);
    }
  }
  const globalNoHash = isObject(opts) && opts.disableNameSuffixHash === true;
  for (const gen of list(k.configMapGenerator, file, 'configMapGenerator')) {
    generateConfigMap(gen, dir, file, globalNoHash, out);
  }

  for (const patch of list(k.patches, file, 'patches')) applyPatch(patch, dir, file, out);

  if (k.namespace !== undefined) {
    if (typeof k.namespace !== 'string') fail(file, 'namespace must be a string');
    for (const r of out) {
      if (!CLUSTER_SCOPED.has(r.obj.kind)) r.obj.metadata.namespace = k.namespace;
    }
  }
  for (const rep of list(k.replicas, file, 'replicas')) applyReplicas(rep, file, out);
  for (const img of list(k.images, file, 'images')) applyImage(img, file, out);
  return out;
}

function list(v: Json | undefined, file: string, field: string): Json[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(file, `${field} must be a list`);
  return v;
}

function id(obj: K8sObject): string {
  return `${obj.kind}/${obj.metadata.namespace ?? '~'}/${obj.metadata.name}`;
}

function assertUniqueIds(resources: Resource[], file: string): void {
  const seen = new Set<string>();
  for (const r of resources) {
    const key = id(r.obj);
    if (seen.has(key)) fail(file, `duplicate resource ${key}`);
    seen.add(key);
  }
}

function only(obj: JsonObject, allowed: string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(where, `field "${key}" is not supported`);
  }
}

function generateConfigMap(
  gen: Json,
  dir: string,
  file: string,
  globalNoHash: boolean,
  out: Resource[],
): void {
  if (!isObject(gen) || typeof gen.name !== 'string') fail(file, 'configMapGenerator needs a name');
  const where = `${file} configMapGenerator ${gen.name}`;
  only(gen, ['name', 'literals', 'envs', 'files', 'behavior', 'options', 'namespace'], where);
  const data: Record<string, string> = {};
  const put = (key: string, value: string) => {
    if (key in data) fail(where, `key ${key} is set twice`);
    data[key] = value;
  };
  for (const lit of list(gen.literals, where, 'literals')) {
    if (typeof lit !== 'string' || !lit.includes('=')) fail(where, `literal ${String(lit)}`);
    const i = lit.indexOf('=');
    const value = lit.slice(i + 1);
    if (/^["']/.test(value)) fail(where, `quoted literal values are not supported (${lit})`);
    put(lit.slice(0, i), value);
  }
  for (const env of list(gen.envs, where, 'envs')) {
    if (typeof env !== 'string') fail(where, 'envs entries must be paths');
    for (const [n, line] of readFileSync(resolve(dir, env), 'utf8').split('\n').entries()) {
      const t = line.trim();
      if (t === '' || t.startsWith('#')) continue;
      const i = t.indexOf('=');
      if (i <= 0) fail(`${resolve(dir, env)}:${n + 1}`, 'expected KEY=VALUE');
      const value = t.slice(i + 1);
      if (/^["']/.test(value))
        fail(`${resolve(dir, env)}:${n + 1}`, 'quoted values are not supported');
      put(t.slice(0, i), value);
    }
  }
  for (const f of list(gen.files, where, 'files')) {
    if (typeof f !== 'string') fail(where, 'files entries must be paths');
    const i = f.indexOf('=');
    const [key, path] = i > 0 ? [f.slice(0, i), f.slice(i + 1)] : [basename(f), f];
    const abs = resolve(dir, path);
    if (!abs.startsWith(`${dir}/`)) fail(where, `${path} is outside the kustomization directory`);
    put(key, readFileSync(abs, 'utf8'));
  }
  const options = gen.options;
  if (options !== undefined) {
    if (!isObject(options)) fail(where, 'options must be a mapping');
    only(options, ['disableNameSuffixHash'], where);
  }
  const noHash =
    isObject(options) && options.disableNameSuffixHash !== undefined
      ? options.disableNameSuffixHash === true
      : globalNoHash;
  const behavior = gen.behavior ?? 'create';
  const ns = typeof gen.namespace === 'string' ? gen.namespace : undefined;
  if (behavior === 'create') {
    const obj: K8sObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: gen.name, ...(ns ? { namespace: ns } : {}) },
      data,
    };
    if (out.some((r) => id(r.obj) === id(obj))) fail(where, 'already exists (use behavior: merge)');
    out.push({ obj, hashSuffix: !noHash });
    return;
  }
  if (behavior !== 'merge' && behavior !== 'replace') fail(where, `behavior ${String(behavior)}`);
  const existing = out.filter(
    (r) => r.obj.kind === 'ConfigMap' && r.obj.metadata.name === gen.name,
  );
  if (existing.length !== 1)
    fail(where, `behavior ${behavior} needs exactly one ConfigMap ${gen.name}`);
  const target = existing[0]!;
  const old = (target.obj.data ?? {}) as Record<string, string>;
  target.obj.data = behavior === 'merge' ? { ...old, ...data } : data;
  if (isObject(options) && options.disableNameSuffixHash !== undefined) target.hashSuffix = !noHash;
}

function applyPatch(entry: Json, dir: string, file: string, out: Resource[]): void {
  if (!isObject(entry)) fail(file, 'patches entries must be mappings');
  only(entry, ['path', 'patch', 'target', 'options'], `${file} patch`);
  if (entry.options !== undefined) fail(file, 'patch options are not supported');
  const where = typeof entry.path === 'string' ? resolve(dir, entry.path) : `${file} inline patch`;
  let docs: Json[];
  if (typeof entry.path === 'string') docs = readYamlDocs(resolve(dir, entry.path));
  else if (typeof entry.patch === 'string') {
    docs = parseAllDocuments(entry.patch).map((d) => d.toJS() as Json);
  } else fail(file, 'a patch needs path or patch');
  for (const doc of docs) {
    if (Array.isArray(doc)) fail(where, 'JSON 6902 patches are not supported');
    const patch = asK8sObject(doc, where);
    const target = entry.target;
    let matches: Resource[];
    if (target !== undefined) {
      if (!isObject(target)) fail(where, 'target must be a mapping');
      only(target, ['kind', 'name'], `${where} target`);
      matches = out.filter(
        (r) =>
          (target.kind === undefined || r.obj.kind === target.kind) &&
          (target.name === undefined || r.obj.metadata.name === target.name),
      );
    } else {
      matches = out.filter(
        (r) =>
          r.obj.kind === patch.kind &&
          r.obj.metadata.name === patch.metadata.name &&
          (patch.metadata.namespace === undefined ||
            r.obj.metadata.namespace === patch.metadata.namespace),
      );
    }
    if (matches.length === 0)
      fail(where, `patch matches no resource (${patch.kind}/${patch.metadata.name})`);
    for (const r of matches) {
      const builtin = BUILTIN_GROUPS.has(r.obj.apiVersion);
      const merged = mergePatch(
        r.obj as unknown as JsonObject,
        patch as unknown as JsonObject,
        builtin,
        where,
      );
      // A patch never renames or moves its target.
      merged.metadata = { ...(merged.metadata as JsonObject), name: r.obj.metadata.name };
      if (r.obj.metadata.namespace !== undefined) {
        (merged.metadata as JsonObject).namespace = r.obj.metadata.namespace;
      }
      r.obj = merged as unknown as K8sObject;
    }
  }
}

function mergePatch(
  base: JsonObject,
  patch: JsonObject,
  builtin: boolean,
  where: string,
): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) fail(where, `directive ${key} is not supported`);
    if (value === null) {
      delete out[key];
    } else if (isObject(value) && isObject(out[key])) {
      out[key] = mergePatch(out[key] as JsonObject, value, builtin, where);
    } else if (Array.isArray(value) && Array.isArray(out[key]) && builtin) {
      out[key] = mergeList(key, out[key] as Json[], value, where);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function mergeList(field: string, base: Json[], patch: Json[], where: string): Json[] {
  let mergeKey = MERGE_KEYS[field];
  if (field === 'ports') {
    const sample = [...patch, ...base].find(isObject);
    mergeKey = sample && 'containerPort' in sample ? 'containerPort' : 'port';
  }
  if (!mergeKey) return patch;
  const out = base.map((x) => x);
  for (const item of patch) {
    if (!isObject(item) || item[mergeKey] === undefined) {
      fail(where, `${field} entries need "${mergeKey}" to merge`);
    }
    for (const key of Object.keys(item)) {
      if (key.startsWith('$')) fail(where, `directive ${key} is not supported`);
    }
    const i = out.findIndex((x) => isObject(x) && x[mergeKey] === item[mergeKey]);
    if (i >= 0) out[i] = mergePatch(out[i] as JsonObject, item, true, where);
    else out.push(item);
  }
  return out;
}

function applyReplicas(rep: Json, file: string, out: Resource[]): void {
  if (!isObject(rep) || typeof rep.name !== 'string' || typeof rep.count !== 'number') {
    fail(file, 'replicas entries need name and count');
  }
  only(rep, ['name', 'count'], `${file} replicas`);
  const hits = out.filter(
    (r) =>
      r.obj.metadata.name === rep.name &&
      ['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'].includes(r.obj.kind),
  );
  if (hits.length === 0) fail(file, `replicas: no workload ${rep.name}`);
  for (const r of hits) (r.obj.spec as JsonObject).replicas = rep.count;
}

function applyImage(img: Json, file: string, out: Resource[]): void {
  if (!isObject(img) || typeof img.name !== 'string') fail(file, 'images entries need a name');
  only(img, ['name', 'newName', 'newTag', 'digest'], `${file} images`);
  let used = false;
  for (const r of out) {
    for (const c of podContainers(r.obj)) {
      const { name, tag, digest } = splitImage(String(c.image ?? ''));
      if (name !== img.name) continue;
      used = true;
      const newName = typeof img.newName === 'string' ? img.newName : name;
      if (typeof img.digest === 'string') c.image = `${newName}@${img.digest}`;
      else if (typeof img.newTag === 'string') c.image = `${newName}:${img.newTag}`;
      else c.image = `${newName}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
    }
  }
  if (!used) fail(file, `images: no container uses ${img.name}`);
}

/** Splits `name[:tag][@digest]`; a registry port (`host:5000/x`) is not a tag. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest = '', digest] = image.split('@');
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    return {
      name: rest.slice(0, colon),
      tag: rest.slice(colon + 1),
      ...(digest ? { digest } : {}),
    };
  }
  return { name: rest, ...(digest ? { digest } : {}) };
}

/** Containers and init containers of a pod template (or of a bare Pod). */
export function podContainers(obj: K8sObject): JsonObject[] {
  const spec = podSpec(obj);
  if (!spec) return [];
  return [
    ...((spec.initContainers as JsonObject[] | undefined) ?? []),
    ...((spec.containers as JsonObject[] | undefined) ?? []),
  ];
}

export function podSpec(obj: K8sObject): JsonObject | undefined {
  const spec = obj.spec as JsonObject | undefined;
  if (!spec) return undefined;
  if (obj.kind === 'Pod') return spec;
  const template = spec.template as JsonObject | undefined;
  return template?.spec as JsonObject | undefined;
}

/**
 * kustomize's ConfigMap hash: sha256 over the Go-JSON encoding of {data, kind, name}, the first
 * ten hex digits with 0,1,3,a,e swapped for letters (so the suffix never looks like a number).
 * kustomize v5 looks the name up with an unsplit path ("metadata/name"), so it always hashes an
 * empty name; reproduced here, as checked against `kubectl kustomize` (kustomize v5.5).
 */
export function configMapHash(data: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
  const json = goJson({ data: sorted, kind: 'ConfigMap', name: '' });
  const hex = createHash('sha256').update(json).digest('hex').slice(0, 10);
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return hex.replace(/[013ae]/g, (c) => swap[c]!);
}

/** encoding/json escapes <, > and & (HTML-safe) and U+2028/2029, which JSON.stringify does not. */
function goJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function applyHashSuffixes(resources: Resource[]): void {
  const renamed = new Map<string, string>(); // namespace/name → hashed name
  for (const r of resources) {
    if (!r.hashSuffix) continue;
    const data = (r.obj.data ?? {}) as Record<string, string>;
    const hashed = `${r.obj.metadata.name}-${configMapHash(data)}`;
    renamed.set(`${r.obj.metadata.namespace ?? ''}/${r.obj.metadata.name}`, hashed);
    r.obj.metadata.name = hashed;
  }
  if (renamed.size === 0) return;
  const rename = (ns: string | undefined, name: unknown): string | undefined =>
    typeof name === 'string' ? renamed.get(`${ns ?? ''}/${name}`) : undefined;
  for (const r of resources) {
    const spec = podSpec(r.obj);
    if (!spec) continue;
    const ns = r.obj.metadata.namespace;
    for (const v of (spec.volumes as JsonObject[] | undefined) ?? []) {
      const cm = v.configMap as JsonObject | undefined;
      const to = rename(ns, cm?.name);
      if (cm && to) cm.name = to;
      for (const src of ((v.projected as JsonObject | undefined)?.sources as JsonObject[]) ?? []) {
        const pcm = src.configMap as JsonObject | undefined;
        const pto = rename(ns, pcm?.name);
        if (pcm && pto) pcm.name = pto;
      }
    }
    for (const c of podContainers(r.obj)) {
      for (const e of (c.envFrom as JsonObject[] | undefined) ?? []) {
        const ref = e.configMapRef as JsonObject | undefined;
        const to = rename(ns, ref?.name);
        if (ref && to) ref.name = to;
      }
      for (const e of (c.env as JsonObject[] | undefined) ?? []) {
        const ref = (e.valueFrom as JsonObject | undefined)?.configMapKeyRef as
          | JsonObject
          | undefined;
        const to = rename(ns, ref?.name);
        if (ref && to) ref.name = to;
      }
    }
  }
}

function sortLegacy(objs: K8sObject[]): K8sObject[] {
  const rank = (kind: string) => {
    const first = ORDER_FIRST.indexOf(kind);
    if (first >= 0) return first - ORDER_FIRST.length;
    const last = ORDER_LAST.indexOf(kind);
    return last >= 0 ? last + 1 : 0;
  };
  const gvk = (o: K8sObject) => {
    const [group, version] = o.apiVersion.includes('/')
      ? o.apiVersion.split('/')
      : ['', o.apiVersion];
    return `${group || '~G'}_${version || '~V'}_${o.kind}`;
  };
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...objs].sort((a, b) => {
    if (gvk(a) !== gvk(b)) {
      return rank(a.kind) - rank(b.kind) || cmp(gvk(a), gvk(b));
    }
    const key = (o: K8sObject) => `${o.metadata.namespace || '~X'}|${o.metadata.name}`;
    return cmp(key(a), key(b));
  });
}
