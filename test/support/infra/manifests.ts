/** Reading rendered manifests the way the kubelet would: env, ports, selectors, quantities. */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type K8sObject, kustomize, podSpec } from './kustomize.js';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const infraDir = resolve(repoRoot, 'infra');

/** Every overlay under infra/overlays (a new one is covered by the tests without edits). */
export function overlayNames(): string[] {
  return readdirSync(resolve(infraDir, 'overlays'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

const rendered = new Map<string, K8sObject[]>();
/** Rendered objects of `base` or an overlay name (cached; callers must not mutate them). */
export function render(name: string): K8sObject[] {
  let objs = rendered.get(name);
  if (!objs) {
    objs = kustomize(resolve(infraDir, name === 'base' ? 'base' : `overlays/${name}`));
    rendered.set(name, objs);
  }
  return objs;
}

export type Obj = Record<string, unknown>;

export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const hit = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!hit) throw new Error(`no ${kind} ${name}`);
  return hit;
}

export function container(obj: K8sObject, name: string): Obj {
  const c = ((podSpec(obj)?.containers as Obj[] | undefined) ?? []).find((x) => x.name === name);
  if (!c) throw new Error(`${obj.kind} ${obj.metadata.name} has no container ${name}`);
  return c;
}

export interface SecretRef {
  secret: string;
  key: string;
  optional: boolean;
}

/** A container's environment: literal values, ConfigMap values, and Secret references. */
export interface ResolvedEnv {
  values: Record<string, string>;
  secrets: Record<string, SecretRef>;
  /** Where each variable came from, for messages. */
  source: Record<string, 'value' | 'configMap' | 'secretKeyRef' | 'other'>;
}

export function resolveEnv(objs: K8sObject[], c: Obj, namespace?: string): ResolvedEnv {
  const out: ResolvedEnv = { values: {}, secrets: {}, source: {} };
  const configMap = (name: string): Record<string, string> => {
    const cm = objs.find(
      (o) =>
        o.kind === 'ConfigMap' && o.metadata.name === name && o.metadata.namespace === namespace,
    );
    if (!cm) throw new Error(`container ${String(c.name)} refers to missing ConfigMap ${name}`);
    return (cm.data ?? {}) as Record<string, string>;
  };
  for (const from of (c.envFrom as Obj[] | undefined) ?? []) {
    const ref = from.configMapRef as Obj | undefined;
    if (!ref)
      throw new Error('only envFrom.configMapRef is used here (secrets go by secretKeyRef)');
    const prefix = (from.prefix as string | undefined) ?? '';
    for (const [k, v] of Object.entries(configMap(String(ref.name)))) {
      out.values[`${prefix}${k}`] = v;
      out.source[`${prefix}${k}`] = 'configMap';
    }
  }
  // `env` wins over `envFrom`, as in the kubelet.
  for (const e of (c.env as Obj[] | undefined) ?? []) {
    const name = String(e.name);
    delete out.values[name];
    const valueFrom = e.valueFrom as Obj | undefined;
    if (typeof e.value === 'string') {
      out.values[name] = e.value;
      out.source[name] = 'value';
    } else if (valueFrom?.secretKeyRef) {
      const ref = valueFrom.secretKeyRef as Obj;
      out.secrets[name] = {
        secret: String(ref.name),
        key: String(ref.key),
        optional: ref.optional === true,
      };
      out.source[name] = 'secretKeyRef';
    } else if (valueFrom?.configMapKeyRef) {
      const ref = valueFrom.configMapKeyRef as Obj;
      const value = configMap(String(ref.name))[String(ref.key)];
      if (value !== undefined) out.values[name] = value;
      out.source[name] = 'configMap';
    } else {
      out.source[name] = 'other';
    }
  }
  return out;
}

/**
 * The environment the app sees when the Secret holds every non-optional key: secret values are
 * stand-ins (their content is not in the repo); optional ones are left unset.
 */
export function envForApp(env: ResolvedEnv): Record<string, string> {
  const out = { ...env.values };
  for (const [name, ref] of Object.entries(env.secrets)) {
    if (!ref.optional) out[name] = `stand-in-for-${ref.secret}-${ref.key}`;
  }
  return out;
}

/** The container port a probe or Service targets (by name or number). */
export function containerPort(c: Obj, port: unknown): number | undefined {
  const ports = (c.ports as Obj[] | undefined) ?? [];
  if (typeof port === 'number')
    return ports.some((p) => p.containerPort === port) ? port : undefined;
  const hit = ports.find((p) => p.name === port);
  return hit ? Number(hit.containerPort) : undefined;
}

/** Does a label selector (matchLabels / matchExpressions) select these labels? */
export function selects(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const matchLabels = (selector.matchLabels ?? {}) as Record<string, string>;
  const exprs = (selector.matchExpressions ?? []) as Obj[];
  if (Object.keys(matchLabels).length === 0 && exprs.length === 0) return true;
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  for (const e of exprs) {
    const has = String(e.key) in labels;
    const value = labels[String(e.key)];
    const values = (e.values as string[] | undefined) ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`unknown selector operator ${String(e.operator)}`);
    }
  }
  return true;
}

/** Workloads (objects with a pod template) of a rendering. */
export function workloads(objs: K8sObject[]): K8sObject[] {
  return objs.filter((o) => podSpec(o) !== undefined);
}

export function podLabels(obj: K8sObject): Record<string, string> {
  const template = (obj.spec as Obj).template as Obj;
  return ((template.metadata as Obj | undefined)?.labels ?? {}) as Record<string, string>;
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Parses a Kubernetes quantity ("500m", "2Gi", "1") into base units (cores, bytes). */
export function quantity(q: unknown): number {
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|m|k|M|G|T|)$/.exec(String(q));
  if (!m) throw new Error(`not a quantity: ${String(q)}`);
  const unit = m[2]!;
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit]!);
}
