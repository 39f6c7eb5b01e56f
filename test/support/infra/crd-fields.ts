/**
 * Field maps of the custom resources in infra/, in the notation of @kubernetes/client-node's
 * `attributeTypeMap` (type names such as `V1LabelSelector` refer to its model classes).
 * Written from the CRD references of prometheus-operator (monitoring.coreos.com/v1
 * ServiceMonitor) and KEDA 2.x (keda.sh/v1alpha1 ScaledObject); they list the fields those
 * CRDs define around the ones infra/ uses, not every field, so a field missing here is an
 * error to look up, not proof that the CRD lacks it.
 */
export interface TypeSpec {
  fields: Record<string, string>;
  required: string[];
  /** client-node formats (int32/int64 mark whole numbers). */
  formats?: Record<string, string>;
  /** Extra rules the CRD's OpenAPI schema states (enums, patterns). */
  check?: (value: Record<string, unknown>, problem: (message: string) => void) => void;
}

/** Prometheus duration, as the ServiceMonitor CRD's pattern states it. */
const DURATION =
  /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;

const int32 = (...names: string[]) => Object.fromEntries(names.map((n) => [n, 'int32']));

export const CRD_KINDS: Record<string, string> = {
  'monitoring.coreos.com/v1/ServiceMonitor': 'ServiceMonitor',
  'keda.sh/v1alpha1/ScaledObject': 'ScaledObject',
};

export const CRD_TYPES: Record<string, TypeSpec> = {
  ServiceMonitor: {
    fields: {
      apiVersion: 'string',
      kind: 'string',
      metadata: 'V1ObjectMeta',
      spec: 'ServiceMonitorSpec',
    },
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
  },
  ServiceMonitorSpec: {
    fields: {
      jobLabel: 'string',
      targetLabels: 'Array<string>',
      podTargetLabels: 'Array<string>',
      endpoints: 'Array<ServiceMonitorEndpoint>',
      selector: 'V1LabelSelector',
      namespaceSelector: 'ServiceMonitorNamespaceSelector',
      sampleLimit: 'number',
      targetLimit: 'number',
      labelLimit: 'number',
      labelNameLengthLimit: 'number',
      labelValueLengthLimit: 'number',
      keepDroppedTargets: 'number',
      attachMetadata: 'ServiceMonitorAttachMetadata',
      scrapeClass: 'string',
      scrapeProtocols: 'Array<string>',
      bodySizeLimit: 'string',
    },
    formats: {
      sampleLimit: 'int64',
      targetLimit: 'int64',
      labelLimit: 'int64',
      labelNameLengthLimit: 'int64',
      labelValueLengthLimit: 'int64',
      keepDroppedTargets: 'int64',
    },
    // The CRD requires only selector; an endpoint-less ServiceMonitor scrapes nothing.
    required: ['selector', 'endpoints'],
  },
  ServiceMonitorNamespaceSelector: {
    fields: { any: 'boolean', matchNames: 'Array<string>' },
    required: [],
  },
  ServiceMonitorAttachMetadata: { fields: { node: 'boolean' }, required: [] },
  ServiceMonitorEndpoint: {
    fields: {
      port: 'string',
      targetPort: 'IntOrString',
      path: 'string',
      scheme: 'string',
      params: '{ [key: string]: Array<string>; }',
      interval: 'string',
      scrapeTimeout: 'string',
      honorLabels: 'boolean',
      honorTimestamps: 'boolean',
      trackTimestampsStaleness: 'boolean',
      metricRelabelings: 'Array<ServiceMonitorRelabelConfig>',
      relabelings: 'Array<ServiceMonitorRelabelConfig>',
      bearerTokenSecret: 'V1SecretKeySelector',
      basicAuth: 'ServiceMonitorBasicAuth',
      authorization: 'ServiceMonitorAuthorization',
      tlsConfig: 'any',
      oauth2: 'any',
      proxyUrl: 'string',
      followRedirects: 'boolean',
      enableHttp2: 'boolean',
      filterRunning: 'boolean',
    },
    required: [],
    check(v, problem) {
      for (const k of ['interval', 'scrapeTimeout'] as const) {
        if (typeof v[k] === 'string' && !DURATION.test(v[k] as string)) {
          problem(`${k} "${v[k]}" is not a Prometheus duration (e.g. 30s)`);
        }
      }
      if (v.scheme !== undefined && !['http', 'https'].includes(v.scheme as string)) {
        problem(`scheme must be http or https`);
      }
      if (v.port === undefined && v.targetPort === undefined) {
        problem('an endpoint needs port (a Service port name) or targetPort');
      }
    },
  },
  ServiceMonitorRelabelConfig: {
    fields: {
      sourceLabels: 'Array<string>',
      separator: 'string',
      targetLabel: 'string',
      regex: 'string',
      modulus: 'number',
      replacement: 'string',
      action: 'string',
    },
    formats: { modulus: 'int64' },
    required: [],
  },
  ServiceMonitorBasicAuth: {
    fields: { username: 'V1SecretKeySelector', password: 'V1SecretKeySelector' },
    required: [],
  },
  ServiceMonitorAuthorization: {
    fields: { type: 'string', credentials: 'V1SecretKeySelector' },
    required: [],
  },

  ScaledObject: {
    fields: {
      apiVersion: 'string',
      kind: 'string',
      metadata: 'V1ObjectMeta',
      spec: 'ScaledObjectSpec',
    },
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
  },
  ScaledObjectSpec: {
    fields: {
      scaleTargetRef: 'ScaledObjectScaleTarget',
      pollingInterval: 'number',
      initialCooldownPeriod: 'number',
      cooldownPeriod: 'number',
      idleReplicaCount: 'number',
      minReplicaCount: 'number',
      maxReplicaCount: 'number',
      advanced: 'ScaledObjectAdvanced',
      triggers: 'Array<ScaledObjectTrigger>',
      fallback: 'ScaledObjectFallback',
    },
    formats: int32(
      'pollingInterval',
      'initialCooldownPeriod',
      'cooldownPeriod',
      'idleReplicaCount',
      'minReplicaCount',
      'maxReplicaCount',
    ),
    required: ['scaleTargetRef', 'triggers'],
    check(v, problem) {
      const min = (v.minReplicaCount as number | undefined) ?? 0;
      const max = (v.maxReplicaCount as number | undefined) ?? 100;
      if (min > max) problem(`minReplicaCount ${min} is above maxReplicaCount ${max}`);
    },
  },
  ScaledObjectScaleTarget: {
    fields: {
      apiVersion: 'string',
      kind: 'string',
      name: 'string',
      envSourceContainerName: 'string',
    },
    required: ['name'],
  },
  ScaledObjectAdvanced: {
    fields: {
      horizontalPodAutoscalerConfig: 'ScaledObjectHpaConfig',
      restoreToOriginalReplicaCount: 'boolean',
      scalingModifiers: 'ScaledObjectScalingModifiers',
    },
    required: [],
  },
  ScaledObjectHpaConfig: {
    fields: { name: 'string', behavior: 'V2HorizontalPodAutoscalerBehavior' },
    required: [],
  },
  ScaledObjectScalingModifiers: {
    fields: {
      formula: 'string',
      target: 'string',
      activationTarget: 'string',
      metricType: 'string',
    },
    required: [],
  },
  ScaledObjectFallback: {
    fields: { failureThreshold: 'number', replicas: 'number', behavior: 'string' },
    formats: int32('failureThreshold', 'replicas'),
    required: ['failureThreshold', 'replicas'],
  },
  ScaledObjectTrigger: {
    fields: {
      type: 'string',
      name: 'string',
      useCachedMetrics: 'boolean',
      metadata: '{ [key: string]: string; }',
      authenticationRef: 'ScaledObjectAuthRef',
      metricType: 'string',
    },
    required: ['type', 'metadata'],
    check(v, problem) {
      if (
        v.metricType !== undefined &&
        !['AverageValue', 'Value', 'Utilization'].includes(v.metricType as string)
      ) {
        problem(`metricType must be AverageValue, Value or Utilization`);
      }
      if (v.type === 'prometheus') checkPrometheusTrigger(v.metadata, problem);
    },
  },
  ScaledObjectAuthRef: { fields: { name: 'string', kind: 'string' }, required: ['name'] },
};

/** KEDA's prometheus scaler reads these metadata keys; anything else is a typo it ignores. */
const PROMETHEUS_KEYS = new Set([
  'serverAddress',
  'query',
  'queryParameters',
  'threshold',
  'activationThreshold',
  'namespace',
  'customHeaders',
  'ignoreNullValues',
  'unsafeSsl',
  'authModes',
]);

function checkPrometheusTrigger(metadata: unknown, problem: (message: string) => void): void {
  if (typeof metadata !== 'object' || metadata === null) return;
  const m = metadata as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (!PROMETHEUS_KEYS.has(k)) problem(`unknown prometheus trigger key "${k}"`);
  }
  for (const k of ['serverAddress', 'query', 'threshold']) {
    if (typeof m[k] !== 'string' || m[k] === '') problem(`prometheus trigger needs ${k}`);
  }
  for (const k of ['threshold', 'activationThreshold']) {
    if (m[k] !== undefined && !Number.isFinite(Number(m[k]))) problem(`${k} must be a number`);
  }
}
