/**
 * What every rendered overlay must guarantee, checked against the app itself: the settings the
 * manifests give pass the real config loader, probes hit paths and ports the API and the
 * agents-js health server actually serve, the worker's grace period covers the longest call,
 * every container runs non-root with resources, images are pinned, and secrets only ever come
 * from Secret references.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentsFile } from '../src/agents/agents-file.js';
import { agentSettings } from '../src/agents/settings.js';
import { buildApp } from '../src/api/app.js';
import { apiSettings } from '../src/api/settings.js';
import { loadConfig, secretNames, secretSettingNames } from '../src/core/config.js';
import { coreSettings } from '../src/core/settings.js';
import { telephonySettings } from '../src/telephony/settings.js';
import { startWorkerMetrics } from '../src/worker/metrics.js';
import { workerSettings } from '../src/worker/settings.js';
import { type K8sObject, podContainers, podSpec, splitImage } from './support/infra/kustomize.js';
import {
  container,
  containerPort,
  envForApp,
  find,
  infraDir,
  type Obj,
  overlayNames,
  podLabels,
  quantity,
  render,
  repoRoot,
  resolveEnv,
  selects,
  workloads,
} from './support/infra/manifests.js';

const API = 'phone-agents-api';
const WORKER = 'phone-agents-worker';
/** The worker's gauge of calls in progress, which the autoscaler reads. */
const ACTIVE_CALLS_METRIC = 'phone_agents_worker_active_calls';

const allSecretNames = new Set(secretSettingNames);
/** Secret settings each process reads, by the area fragments it loads. */
const secretsByContainer = {
  api: [...secretNames(coreSettings), ...secretNames(apiSettings)],
  worker: [
    ...secretNames(coreSettings),
    ...secretNames(workerSettings),
    ...secretNames(agentSettings),
    ...secretNames(telephonySettings),
  ],
};

type Sizing = {
  baseMiB: number;
  perCallMiB: number;
  perCallMillicores: number;
  memoryHeadroom: number;
};
const sizing = JSON.parse(readFileSync(join(infraDir, 'sizing.json'), 'utf8')) as Sizing;

/** The environment of one Deployment's container, as the kubelet would give it. */
function containerEnv(objs: K8sObject[], deployment: string, name: string) {
  const d = find(objs, 'Deployment', deployment);
  return resolveEnv(objs, container(d, name), d.metadata.namespace);
}
const apiEnv = (objs: K8sObject[]) => containerEnv(objs, API, 'api');
const workerEnv = (objs: K8sObject[]) => containerEnv(objs, WORKER, 'worker');
const workerConfig = (objs: K8sObject[]) =>
  loadConfig({ role: 'worker', env: envForApp(workerEnv(objs)) });
const apiConfig = (objs: K8sObject[]) => loadConfig({ role: 'api', env: envForApp(apiEnv(objs)) });

describe.each(overlayNames())('overlay %s', (overlay) => {
  const objs = render(overlay);
  const namespace = find(objs, 'Deployment', API).metadata.namespace;

  it('puts every object in its own namespace, which it creates', () => {
    expect(namespace).toMatch(/^phone-agents/);
    expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual([
      namespace,
    ]);
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(namespace);
    }
  });

  it('gives API and worker settings the real config loader accepts', () => {
    expect(() => apiConfig(objs)).not.toThrow();
    expect(() => workerConfig(objs)).not.toThrow();
  });

  it('passes every secret setting only through a Secret reference', () => {
    for (const [name, wanted] of Object.entries(secretsByContainer)) {
      const env = name === 'api' ? apiEnv(objs) : workerEnv(objs);
      for (const s of wanted) {
        expect(env.source[s], `${s} for the ${name} container`).toBe('secretKeyRef');
      }
    }
    for (const w of workloads(objs)) {
      for (const c of podContainers(w)) {
        const env = resolveEnv(objs, c, w.metadata.namespace);
        for (const [v, src] of Object.entries(env.source)) {
          if (allSecretNames.has(v))
            expect(src, `${w.metadata.name}/${c.name} ${v}`).toBe('secretKeyRef');
        }
      }
    }
    for (const cm of objs.filter((o) => o.kind === 'ConfigMap')) {
      const keys = Object.keys((cm.data ?? {}) as object).filter((k) => allSecretNames.has(k));
      expect(keys, `secret settings in ConfigMap ${cm.metadata.name}`).toEqual([]);
    }
    expect(objs.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('serves the API probes on the port the API listens on', () => {
    const c = container(find(objs, 'Deployment', API), 'api');
    const readiness = (c.readinessProbe as Obj).httpGet as Obj;
    const liveness = (c.livenessProbe as Obj).httpGet as Obj;
    expect(readiness.path).toBe('/readyz');
    expect(liveness.path).toBe('/healthz');
    const port = apiConfig(objs).PORT;
    expect(containerPort(c, readiness.port)).toBe(port);
    expect(containerPort(c, liveness.port)).toBe(port);
  });

  it("probes the worker on the agents-js health server's port", () => {
    const c = container(find(objs, 'Deployment', WORKER), 'worker');
    const port = workerConfig(objs).WORKER_HEALTH_PORT;
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const get = (c[probe] as Obj | undefined)?.httpGet as Obj | undefined;
      expect(get, probe).toBeDefined();
      expect(containerPort(c, get!.port), probe).toBe(port);
    }
  });

  it('lets every call finish: grace period ≥ MAX_CALL_DURATION_S, new pods before old go', () => {
    const d = find(objs, 'Deployment', WORKER);
    const max = workerConfig(objs).MAX_CALL_DURATION_S;
    expect(podSpec(d)!.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(max);
    const strategy = (d.spec as Obj).strategy as Obj;
    expect(strategy.type).toBe('RollingUpdate');
    expect((strategy.rollingUpdate as Obj).maxUnavailable).toBe(0);
    // Whatever else carries calls (livekit-sip in the telephony stack) drains as long.
    for (const w of workloads(objs).filter((o) => o.metadata.name === 'livekit-sip')) {
      expect(podSpec(w)!.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(max);
    }
  });

  it('runs every container non-root, unprivileged, read-only, with requests and limits', () => {
    for (const w of workloads(objs)) {
      const pod = podSpec(w)!;
      const podSc = (pod.securityContext ?? {}) as Obj;
      if (w.metadata.name !== 'livekit-sip')
        expect(pod.hostNetwork, w.metadata.name).toBeUndefined();
      expect(pod.hostPID ?? pod.hostIPC, w.metadata.name).toBeUndefined();
      expect(pod.automountServiceAccountToken, w.metadata.name).toBe(false);
      for (const c of podContainers(w)) {
        const at = `${w.metadata.name}/${c.name}`;
        const sc = (c.securityContext ?? {}) as Obj;
        expect(sc.runAsNonRoot ?? podSc.runAsNonRoot, at).toBe(true);
        const uid = sc.runAsUser ?? podSc.runAsUser;
        expect(typeof uid === 'number' && uid > 0, `${at} runAsUser`).toBe(true);
        expect(sc.allowPrivilegeEscalation, at).toBe(false);
        expect(sc.privileged ?? false, at).toBe(false);
        expect(sc.readOnlyRootFilesystem, at).toBe(true);
        expect((sc.capabilities as Obj | undefined)?.drop, at).toEqual(['ALL']);
        const res = c.resources as { requests?: Obj; limits?: Obj } | undefined;
        for (const r of ['cpu', 'memory']) {
          const req = res?.requests?.[r];
          const lim = res?.limits?.[r];
          expect(req !== undefined && lim !== undefined, `${at} ${r} request and limit`).toBe(true);
          expect(quantity(lim), `${at} ${r} limit ≥ request`).toBeGreaterThanOrEqual(quantity(req));
        }
      }
    }
  });

  it('sizes the worker for MAX_CONCURRENT_CALLS with the bench:calls figures', () => {
    const calls = workerConfig(objs).MAX_CONCURRENT_CALLS;
    const res = container(find(objs, 'Deployment', WORKER), 'worker').resources as Record<
      string,
      Obj
    >;
    const needMiB = sizing.baseMiB + calls * sizing.perCallMiB;
    expect(quantity(res.requests!.memory) / 2 ** 20).toBeGreaterThanOrEqual(needMiB);
    expect(quantity(res.limits!.memory) / 2 ** 20).toBeGreaterThanOrEqual(
      needMiB * sizing.memoryHeadroom,
    );
    expect(quantity(res.requests!.cpu) * 1000).toBeGreaterThanOrEqual(
      calls * sizing.perCallMillicores,
    );
  });

  it('pins every image to a version (or digest), never latest', () => {
    for (const w of workloads(objs)) {
      for (const c of podContainers(w)) {
        const { name, tag, digest } = splitImage(String(c.image));
        const at = `${w.metadata.name}/${c.name} ${String(c.image)}`;
        expect(digest ?? tag, at).toBeDefined();
        if (!digest) expect(tag, at).toMatch(/^v?\d+\.\d+\.\d+([-.][\w.-]+)?$/);
        expect(name, at).not.toBe('phone-agents'); // the overlay names its registry
      }
    }
    expect(find(objs, 'Deployment', API).spec).toMatchObject({
      template: { spec: { containers: [{ image: expect.stringMatching(/\/phone-agents[:@]/) }] } },
    });
  });

  it('runs the image commands the Dockerfile builds', () => {
    const api = container(find(objs, 'Deployment', API), 'api');
    const worker = container(find(objs, 'Deployment', WORKER), 'worker');
    expect(api.command).toBeUndefined(); // keeps the image's tini entrypoint
    expect(worker.command).toBeUndefined();
    expect(api.args).toEqual(['node', 'dist/api/main.js']);
    expect(worker.args).toEqual(['node', 'dist/worker/main.js', 'start']);
  });

  it('mounts a valid agents file where AGENTS_CONFIG points, with its tool secrets', () => {
    for (const [d, c] of [
      [API, 'api'],
      [WORKER, 'worker'],
    ] as const) {
      const w = find(objs, 'Deployment', d);
      const ct = container(w, c);
      const path = resolveEnv(objs, ct, namespace).values.AGENTS_CONFIG!;
      expect(path, `${d} AGENTS_CONFIG`).toMatch(/^\//);
      const mount = ((ct.volumeMounts as Obj[]) ?? []).find(
        (m) => m.mountPath === posix.dirname(path),
      );
      expect(mount, `${d} mounts ${posix.dirname(path)}`).toBeDefined();
      const volume = ((podSpec(w)!.volumes as Obj[]) ?? []).find((v) => v.name === mount!.name)!;
      const cmName = (volume.configMap as Obj).name;
      const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName)!;
      const text = (cm.data as Record<string, string>)[posix.basename(path)]!;
      expect(text, `${cmName} holds ${posix.basename(path)}`).toBeDefined();
      if (c === 'worker') {
        const env = workerEnv(objs);
        // Tools' HMAC keys must reach the worker as secrets: the loader checks they are set.
        const parsed = parseAgentsFile(text, path, { env: envForApp(env) });
        for (const tool of parsed.tools.values()) {
          if (tool.secretEnv)
            expect(env.source[tool.secretEnv], tool.secretEnv).toBe('secretKeyRef');
        }
      }
    }
  });

  it('wires Services, disruption budgets and autoscalers to the pods they mean', () => {
    const pods = workloads(objs);
    for (const svc of objs.filter((o) => o.kind === 'Service')) {
      const spec = svc.spec as Obj;
      const backing = pods.filter((w) =>
        selects({ matchLabels: spec.selector } as Obj, podLabels(w)),
      );
      expect(backing.length, `Service ${svc.metadata.name} selects one workload`).toBe(1);
      for (const p of spec.ports as Obj[]) {
        const c = podContainers(backing[0]!).find((x) => containerPort(x, p.targetPort ?? p.port));
        expect(c, `Service ${svc.metadata.name} port ${String(p.name)}`).toBeDefined();
      }
    }
    for (const pdb of objs.filter((o) => o.kind === 'PodDisruptionBudget')) {
      const sel = (pdb.spec as Obj).selector as Obj;
      expect(pods.filter((w) => selects(sel, podLabels(w))).map((w) => w.metadata.name)).toEqual([
        pdb.metadata.name,
      ]);
    }
    const hpa = find(objs, 'HorizontalPodAutoscaler', API).spec as Obj;
    expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: API });
    expect(hpa.metrics).toEqual([
      expect.objectContaining({
        type: 'Resource',
        resource: expect.objectContaining({ name: 'cpu' }),
      }),
    ]);
    // KEDA owns the worker's replica count: no second autoscaler may fight it.
    const hpas = objs.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    expect(hpas.map((o) => ((o.spec as Obj).scaleTargetRef as Obj).name)).not.toContain(WORKER);
    const so = find(objs, 'ScaledObject', WORKER).spec as Obj;
    expect(so.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: WORKER });
  });

  it('scales workers on active calls per pod, before they are full, and down slowly', () => {
    const so = find(objs, 'ScaledObject', WORKER).spec as Obj;
    const triggers = so.triggers as Obj[];
    expect(triggers.map((t) => t.type)).toEqual(['prometheus']);
    const t = triggers[0]!;
    expect(t.metricType).toBe('AverageValue');
    const md = t.metadata as Record<string, string>;
    expect(md.query).toContain(ACTIVE_CALLS_METRIC);
    expect(md.query).toContain(`namespace="${namespace}"`);
    const calls = workerConfig(objs).MAX_CONCURRENT_CALLS;
    expect(Number(md.threshold)).toBeGreaterThan(0);
    expect(Number(md.threshold)).toBeLessThan(calls);
    const behavior = ((so.advanced as Obj).horizontalPodAutoscalerConfig as Obj).behavior as Obj;
    const down = behavior.scaleDown as Obj;
    expect(down.stabilizationWindowSeconds).toBeGreaterThanOrEqual(600);
    for (const p of down.policies as Obj[]) {
      expect(p).toMatchObject({ type: 'Pods', value: 1 });
      expect(p.periodSeconds).toBeGreaterThanOrEqual(120);
    }
    expect(so.minReplicaCount).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(overlay === 'dev')('runs at least two API pods', () => {
    expect((find(objs, 'Deployment', API).spec as Obj).replicas).toBeGreaterThanOrEqual(2);
    expect(
      (find(objs, 'HorizontalPodAutoscaler', API).spec as Obj).minReplicas,
    ).toBeGreaterThanOrEqual(2);
    expect(
      (find(objs, 'PodDisruptionBudget', API).spec as Obj).minAvailable,
    ).toBeGreaterThanOrEqual(1);
  });

  it('scrapes the API and every worker pod', () => {
    const sm = find(objs, 'ServiceMonitor', 'phone-agents').spec as Obj;
    const services = objs.filter(
      (o) =>
        o.kind === 'Service' &&
        selects(sm.selector as Obj, (o.metadata.labels ?? {}) as Record<string, string>),
    );
    const scraped = (sm.endpoints as Obj[]).map((e) => {
      const svc = services.find((s) =>
        ((s.spec as Obj).ports as Obj[]).some((p) => p.name === e.port),
      );
      expect(svc, `ServiceMonitor endpoint port ${String(e.port)}`).toBeDefined();
      return svc!.metadata.name;
    });
    expect(scraped.sort()).toEqual([API, `${WORKER}-metrics`]);
    const headless = find(objs, 'Service', `${WORKER}-metrics`).spec as Obj;
    expect(headless.clusterIP).toBe('None');
  });

  it('denies all traffic but API ingress and the egress the calls need', () => {
    const policies = objs.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as Obj);
    const deny = policies.find(
      (p) => Object.keys(p.podSelector as Obj).length === 0 && !p.ingress && !p.egress,
    );
    expect(deny?.policyTypes).toEqual(['Ingress', 'Egress']);
    const of = (w: string) => podLabels(find(objs, 'Deployment', w));
    const open = policies.filter((p) => (p.ingress as Obj[] | undefined)?.some((r) => !r.from));
    for (const p of open) {
      const sel = p.podSelector as Obj;
      // Only the API, and the telephony stack's Redis (reached from host-network livekit-sip
      // and the LiveKit server; password-protected), take traffic from anywhere.
      expect(
        selects(sel, of(API)) || (sel.matchLabels as Obj)['app.kubernetes.io/name'] === 'redis',
      ).toBe(true);
      expect(selects(sel, of(WORKER))).toBe(false);
    }
    const egressOf = (w: string) =>
      policies
        .filter((p) => selects(p.podSelector as Obj, of(w)))
        .flatMap((p) => (p.egress as Obj[]) ?? []);
    const allows = (w: string, port: number, protocol = 'TCP') =>
      egressOf(w).some((r) =>
        ((r.ports as Obj[]) ?? []).some(
          (p) =>
            (p.protocol ?? 'TCP') === protocol &&
            (p.port === port ||
              (typeof p.port === 'number' &&
                p.endPort !== undefined &&
                port >= p.port &&
                port <= Number(p.endPort))),
        ),
      );
    for (const w of [API, WORKER]) {
      expect(allows(w, 53, 'UDP'), `${w} DNS`).toBe(true);
      expect(allows(w, 443), `${w} HTTPS`).toBe(true);
      expect(allows(w, 7880), `${w} LiveKit`).toBe(true);
    }
    expect(allows(API, 6379), 'API → Redis').toBe(true);
    expect(
      allows(WORKER, 50000, 'UDP') && allows(WORKER, 60000, 'UDP'),
      'worker WebRTC media',
    ).toBe(true);
    expect(allows(WORKER, apiConfig(objs).PORT), 'worker → API (call events)').toBe(true);
  });
});

describe('the app serves what the manifests probe', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const objs = render('prod');
    // The overlay's settings, but LiveKit on a closed loopback port: nothing leaves the machine.
    const env = {
      ...envForApp(apiEnv(objs)),
      LIVEKIT_URL: 'http://127.0.0.1:1',
      LOG_LEVEL: 'silent',
    };
    app = await buildApp({ config: loadConfig({ role: 'api', env }) });
    await app.ready();
  });
  afterAll(() => app?.close());

  it('answers the API liveness and readiness probes', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // Not ready while LiveKit is unreachable: the pod leaves the Service until it is.
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
  });

  it('answers the worker probes from the agents-js health server', async () => {
    // agents-js does not export its health server; load it (and the logger it needs) from the
    // installed package, without importing the whole SDK.
    const dist = dirname(createRequire(import.meta.url).resolve('@livekit/agents'));
    const { initializeLogger } = (await import(pathToFileURL(join(dist, 'log.js')).href)) as {
      initializeLogger: (o: { pretty: boolean; level: string }) => void;
    };
    initializeLogger({ pretty: false, level: 'fatal' });
    const { HTTPServer } = (await import(pathToFileURL(join(dist, 'http_server.js')).href)) as {
      HTTPServer: new (
        host: string,
        port: number,
        health: () => { healthy: boolean; message: string },
        info: () => unknown,
      ) => { app: import('node:http').Server; run(): Promise<void>; close(): Promise<void> };
    };
    let healthy = false;
    const server = new HTTPServer(
      '127.0.0.1',
      0,
      () => ({ healthy, message: healthy ? 'OK' : 'not connected' }),
      () => ({
        active_jobs: 0,
      }),
    );
    await server.run();
    try {
      const port = (server.app.address() as { port: number }).port;
      const c = container(find(render('prod'), 'Deployment', WORKER), 'worker');
      const status = async (probe: string) => {
        const path = ((c[probe] as Obj).httpGet as Obj).path as string;
        return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
      };
      // Not registered with LiveKit: not ready, but alive (calls in progress keep running).
      expect(await status('readinessProbe')).toBe(503);
      expect(await status('startupProbe')).toBe(503);
      expect(await status('livenessProbe')).toBe(200);
      healthy = true;
      expect(await status('readinessProbe')).toBe(200);
      expect(await status('livenessProbe')).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('serves the active-calls gauge the worker autoscaler reads, on the metrics port', async () => {
    const objs = render('prod');
    const c = container(find(objs, 'Deployment', WORKER), 'worker');
    expect(workerConfig(objs).WORKER_METRICS_PORT).toBe(containerPort(c, 'metrics'));
    // The worker's metrics endpoint, scraped: the series the ScaledObject's query sums.
    const metrics = await startWorkerMetrics({
      port: 0,
      host: '127.0.0.1',
      activeCalls: () => 3,
      defaultMetrics: false,
    });
    try {
      const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^${ACTIVE_CALLS_METRIC} 3$`, 'm'));
    } finally {
      await metrics.close();
    }
  });
});

describe('secrets stay out of the repository', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
  const infraFiles = files(infraDir);

  it('documents how to create every Secret key the manifests reference', () => {
    const readme = readFileSync(join(infraDir, 'README.md'), 'utf8');
    const refs = new Set<string>();
    for (const overlay of overlayNames()) {
      for (const w of workloads(render(overlay))) {
        for (const c of podContainers(w)) {
          for (const ref of Object.values(
            resolveEnv(render(overlay), c, w.metadata.namespace).secrets,
          )) {
            refs.add(`${ref.secret} ${ref.key}`);
          }
        }
      }
    }
    expect(refs.size).toBeGreaterThan(5);
    for (const r of refs) {
      const [secret, key] = r.split(' ') as [string, string];
      expect(readme, `infra/README.md names Secret ${secret}`).toContain(
        `secret generic ${secret}`,
      );
      expect(readme, `infra/README.md documents ${secret} key ${key}`).toMatch(
        new RegExp(`\\b${key}\\b`),
      );
    }
  });

  it('holds no Secret objects and no secret-looking values', () => {
    const problems: string[] = [];
    const secretKey =
      /^\s*-?\s*([\w.-]*(password|passwd|secret|token|api_?key)[\w.-]*)\s*[:=]\s*(.*)$/i;
    const allowedValue = /^(|\$\([A-Z_]+\)|true|false|\||>-?|<[^>]+>)$/;
    for (const file of [
      ...infraFiles,
      join(repoRoot, 'Dockerfile'),
      join(repoRoot, '.dockerignore'),
    ]) {
      if (file.endsWith('README.md')) continue;
      const text = readFileSync(file, 'utf8');
      const at = relative(repoRoot, file);
      if (/^kind:\s*Secret\s*$/m.test(text)) problems.push(`${at}: kind: Secret`);
      if (/\bstringData:|secretGenerator:/.test(text)) problems.push(`${at}: secret data`);
      if (
        /-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk-[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b|\bxox[abp]-/.test(
          text,
        )
      ) {
        problems.push(`${at}: a credential`);
      }
      for (const [i, line] of text.split('\n').entries()) {
        if (line.trim().startsWith('#')) continue;
        const m = secretKey.exec(line);
        if (m && !allowedValue.test(m[3]!.trim().replace(/^["']|["']$/g, ''))) {
          problems.push(`${at}:${i + 1}: ${m[1]} has a value`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
