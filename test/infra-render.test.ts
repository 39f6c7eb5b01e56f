/**
 * infra/ renders (base and every overlay) and every object is valid against the Kubernetes API
 * schema, strictly and offline. The test-side renderer is checked against the real kustomize v5
 * (kubectl's, or a standalone one), and must refuse what it does not implement. Without one the
 * comparison is skipped with a warning on a developer's machine, and fails in CI (CI=true).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { validateObject } from './support/infra/k8s-schema.js';
import { type K8sObject, KustomizeError, kustomize } from './support/infra/kustomize.js';
import { infraDir, overlayNames, render } from './support/infra/manifests.js';

const targets = ['base', ...overlayNames()];
// biome-ignore lint/suspicious/noExplicitAny: tests reach into and corrupt rendered objects
type Loose = any;

describe('infra renders and validates strictly', () => {
  it('has the dev, prod and telephony-stack overlays', () => {
    expect(overlayNames()).toEqual(expect.arrayContaining(['dev', 'prod', 'telephony-stack']));
  });

  it.each(targets)('%s: every object matches the Kubernetes schema', (name) => {
    const objs = render(name);
    expect(objs.length).toBeGreaterThan(5);
    const problems = objs.flatMap((o) =>
      validateObject(o).map((i) => `${o.kind}/${o.metadata.name} ${i.path}: ${i.message}`),
    );
    expect(problems).toEqual([]);
  });
});

/**
 * The reference renderer: `kubectl kustomize` when the installed kubectl embeds kustomize v5, else
 * a standalone kustomize v5 (`$PA_KUSTOMIZE`, or `kustomize` on the PATH: `go install
 * sigs.k8s.io/kustomize/kustomize/v5@v5.5.0` builds it from the Go module proxy).
 */
function referenceKustomize(): { name: string; render: (dir: string) => unknown[] } | undefined {
  const parse = (text: string) => parseAllDocuments(text).map((d) => d.toJS());
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    if (/Kustomize Version: v5\./.test(run('kubectl', ['version', '--client']))) {
      return {
        name: 'kubectl kustomize',
        render: (dir) => parse(run('kubectl', ['kustomize', dir])),
      };
    }
  } catch {
    // no kubectl
  }
  // $PA_KUSTOMIZE names a kustomize v5 explicitly (a `go install` build reports its version as
  // "(devel)"); one found on the PATH must say it is v5.
  const explicit = process.env.PA_KUSTOMIZE;
  const standalone = explicit || 'kustomize';
  try {
    if (explicit || /^v5\./.test(run(standalone, ['version']).trim())) {
      return {
        name: 'kustomize build',
        render: (dir) => parse(run(standalone, ['build', dir])),
      };
    }
  } catch {
    // no kustomize either
  }
  return undefined;
}
const reference = referenceKustomize();
const NO_REFERENCE =
  'no kustomize v5 (kubectl with kustomize v5, or `kustomize` / $PA_KUSTOMIZE): the test ' +
  'renderer is not compared with the real one';
// Loud where it is skipped; CI has one (.ci/run), so there its absence is a failure, not a skip.
if (!reference && !process.env.CI) console.warn(`infra-render: SKIPPED: ${NO_REFERENCE}`);

describe('the test renderer', () => {
  it.runIf(!reference && !!process.env.CI)('has kustomize v5 to compare with (CI)', () => {
    throw new Error(`${NO_REFERENCE}; CI must install one (.ci/run)`);
  });

  it.skipIf(!reference).each(targets)(
    `%s: renders exactly what ${reference?.name ?? 'kustomize'} renders`,
    (name) => {
      const dir = resolve(infraDir, name === 'base' ? 'base' : `overlays/${name}`);
      expect(kustomize(dir)).toEqual(reference!.render(dir));
    },
  );

  const tmp = mkdtempSync(join(tmpdir(), 'infra-render-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const kustomization = (files: Record<string, string>): string => {
    const dir = join(tmp, String(n++));
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: main
          image: app:1.0.0
          env:
            - {name: A, value: "1"}
            - {name: B, value: "2"}
        - name: side
          image: side:2.0.0
`;

  it('merges container and env lists by name and deletes fields set to null', () => {
    const dir = kustomization({
      'kustomization.yaml': 'resources: [deploy.yaml]\npatches: [{path: patch.yaml}]\n',
      'deploy.yaml': deployment,
      'patch.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
      containers:
        - name: main
          env:
            - {name: B, value: "3"}
            - {name: C, value: "4"}
        - name: side
          image: null
`,
    });
    const [d] = kustomize(dir) as [K8sObject];
    const containers = (d.spec as Loose).template.spec.containers;
    expect(containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '3' },
      { name: 'C', value: '4' },
    ]);
    expect(containers[1]).toEqual({ name: 'side' });
  });

  it('hashes generated ConfigMaps as kustomize does and renames references to them', () => {
    const dir = kustomization({
      'kustomization.yaml': `resources: [deploy.yaml]
configMapGenerator: [{name: settings, literals: [A=b]}]
`,
      'deploy.yaml': deployment.replace(
        '          env:\n',
        '          envFrom: [{configMapRef: {name: settings}}]\n          env:\n',
      ),
    });
    const objs = kustomize(dir);
    // The suffix `kubectl kustomize` (kustomize v5.5) gives a ConfigMap with data {A: b}.
    expect(objs.map((o) => o.metadata.name)).toEqual(['settings-b9t2424hkf', 'app']);
    const main = (objs[1]!.spec as Loose).template.spec.containers[0];
    expect(main.envFrom).toEqual([{ configMapRef: { name: 'settings-b9t2424hkf' } }]);
  });

  it.each([
    [
      'an unsupported field',
      'resources: [deploy.yaml]\ncommonLabels: {a: b}\n',
      {},
      /commonLabels/,
    ],
    [
      'a JSON 6902 patch',
      'resources: [deploy.yaml]\npatches: [{path: p.yaml}]\n',
      { 'p.yaml': '- {op: replace, path: /spec/replicas, value: 3}\n' },
      /JSON 6902/,
    ],
    [
      'a patch that matches nothing',
      'resources: [deploy.yaml]\npatches: [{path: p.yaml}]\n',
      { 'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: other}\n' },
      /matches no resource/,
    ],
    [
      'a patch directive',
      'resources: [deploy.yaml]\npatches: [{path: p.yaml}]\n',
      {
        'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n$patch: delete\n',
      },
      /directive/,
    ],
    ['a remote resource', 'resources: [https://example.com/x.yaml]\n', {}, /remote/],
    [
      'an image no container uses',
      'resources: [deploy.yaml]\nimages: [{name: nope, newTag: "1"}]\n',
      {},
      /no container/,
    ],
    [
      'a secret generator',
      'resources: [deploy.yaml]\nsecretGenerator: [{name: s}]\n',
      {},
      /secretGenerator/,
    ],
  ])('refuses %s', (_what, k, extra, message) => {
    const dir = kustomization({ 'kustomization.yaml': k, 'deploy.yaml': deployment, ...extra });
    expect(() => kustomize(dir)).toThrow(KustomizeError);
    expect(() => kustomize(dir)).toThrow(message);
  });
});

describe('the schema check', () => {
  /** A copy of prod's first object of a kind, to corrupt. */
  const fromProd = (kind: string) =>
    structuredClone(render('prod').find((o) => o.kind === kind)!) as Loose;

  it('reports unknown fields, wrong types and missing required fields', () => {
    const d = fromProd('Deployment');
    d.spec.template.spec.containers[0].livenessProbe.httpget = { path: '/' };
    d.spec.template.spec.containers[0].resources.limits.memory = 512;
    d.spec.replicas = '2';
    delete d.spec.selector;
    expect(validateObject(d).map((i) => i.message)).toEqual([
      'expected a number, got "2"',
      'unknown field "httpget" in V1Probe',
      'expected a string, got 512',
      'missing required field "selector" of V1DeploymentSpec',
    ]);
  });

  it('checks custom resources against their field maps', () => {
    const so = fromProd('ScaledObject');
    so.spec.maxReplicas = 3;
    so.spec.triggers[0].metadata.treshold = '5';
    so.spec.triggers[0].metadata.threshold = 6;
    const sm = fromProd('ServiceMonitor');
    sm.spec.endpoints[0].interval = '30 seconds';
    expect([...validateObject(so), ...validateObject(sm)].map((i) => i.message)).toEqual([
      'expected a string, got 6',
      'unknown prometheus trigger key "treshold"',
      'prometheus trigger needs threshold',
      'unknown field "maxReplicas" in ScaledObjectSpec',
      'interval "30 seconds" is not a Prometheus duration (e.g. 30s)',
    ]);
  });

  it('refuses Secrets and kinds it has no schema for', () => {
    expect(validateObject({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })).toEqual([
      { path: '', message: 'Secrets are never committed' },
    ]);
    expect(
      validateObject({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'd' } }),
    ).toEqual([{ path: '', message: 'no schema for apps/v1beta1/Deployment' }]);
  });
});
