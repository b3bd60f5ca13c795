// infra/k8s as kubectl renders it (kustomize, no cluster), each object validated against the
// Kubernetes API schemas (kubernetes-models) and KEDA's CRD schema, and the promises between them
// checked: grace periods longer than the worker's shutdown budget, autoscalers that point at real
// Deployments and at their pool's backlog, GPU scheduling, budgets that select their pods.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';

const root = resolve(import.meta.dirname, '..');
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};
const render = (overlay: string): Obj[] =>
  parseAllDocuments(
    execFileSync('kubectl', ['kustomize', resolve(root, 'infra/k8s/overlays', overlay)], { encoding: 'utf8' }),
  ).map((d) => d.toJS() as Obj);

const models: Record<string, Record<string, new (o: unknown) => { validate(): void }>> = {
  v1: core as never,
  'apps/v1': apps as never,
  'batch/v1': batch as never,
  'policy/v1': policy as never,
  'keda.sh/v1alpha1': keda as never,
};
const validate = (o: Obj) => {
  const Model = models[o.apiVersion]?.[o.kind];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
};

describe.each(['cpu', 'gpu'])('infra/k8s/overlays/%s', (overlay) => {
  const objs = render(overlay);
  const of = (kind: string) => objs.filter((o) => o.kind === kind);
  const deployments = of('Deployment');
  const workers = deployments.filter((d) => d.metadata.name.startsWith('lrsweep-worker-'));
  const envOf = (d: Obj) =>
    Object.fromEntries(
      (d.spec.template.spec.containers[0].env ?? [])
        .filter((e: any) => 'value' in e)
        .map((e: any) => [e.name, e.value]),
    );
  const config = of('ConfigMap')[0]!.data!;

  it('renders objects that each validate against their API schema, all in one namespace', () => {
    expect(objs.length).toBeGreaterThan(8);
    for (const o of objs) expect(() => validate(o), `${o.kind} ${o.metadata.name}`).not.toThrow();
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace).toBe('lrsweep');
    // The validation can fail: a wrong type is caught.
    const broken = structuredClone(deployments[0]!);
    broken.spec.replicas = 'two';
    expect(() => validate(broken)).toThrow(/replicas must be integer/);
  });

  it('gives workers a grace period longer than their shutdown budget (12 s, inside a spot node’s 15 s)', () => {
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe('12000');
    for (const w of workers) {
      const grace = w.spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBe(15);
      expect(grace * 1000).toBeGreaterThanOrEqual(Number(config.SHUTDOWN_TIMEOUT_MS) + 2000);
      // Probes and scrapes reach the health server from outside the pod.
      expect(config.WORKER_HEALTH_HOST).toBe('0.0.0.0');
      expect(w.spec.template.spec.containers[0].readinessProbe.httpGet).toMatchObject({
        path: '/healthz',
        port: 'metrics',
      });
      expect(w.spec.template.spec.containers[0].ports[0].containerPort).toBe(Number(config.WORKER_HEALTH_PORT));
      expect(w.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(
        of('PersistentVolumeClaim')[0]!.metadata.name,
      );
    }
    expect(of('PersistentVolumeClaim')[0]!.spec.accessModes).toEqual(['ReadWriteMany']);
  });

  it('scales each worker pool with KEDA on that pool’s backlog, from zero', () => {
    const scaled = of('ScaledObject');
    expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(workers.map((w) => w.metadata.name).sort());
    const service = of('Service').find((s) => s.metadata.name === 'lrsweep-api')!;
    for (const s of scaled) {
      const target = workers.find((w) => w.metadata.name === s.spec.scaleTargetRef.name)!;
      const env = envOf(target);
      expect(s.spec.minReplicaCount).toBe(0);
      expect(target.spec.replicas).toBe(0);
      const [trigger] = s.spec.triggers;
      expect(trigger.type).toBe('metrics-api');
      const url = new URL(trigger.metadata.url);
      expect(url.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
      expect(Number(url.port)).toBe(service.spec.ports[0].port);
      expect(url.pathname).toBe('/scaling/backlog');
      expect(url.searchParams.get('pool')).toBe(env.WORKER_POOLS);
      expect(trigger.metadata.valueLocation).toBe('backlog');
      expect(trigger.metadata.targetValue).toBe(env.WORKER_SLOTS);
    }
  });

  it("sizes each worker's native threads by its pod's CPU request, not the node's cores", () => {
    for (const w of workers) {
      const c = w.spec.template.spec.containers[0];
      const env = envOf(w);
      expect(env.WORKER_SLOTS, w.metadata.name).toBe('1');
      expect(c.env.find((e: any) => e.name === 'TF_THREADS')?.valueFrom, w.metadata.name).toEqual({
        resourceFieldRef: { resource: 'requests.cpu', divisor: '1' },
      });
      expect(Number(c.resources.requests.cpu), w.metadata.name).toBeGreaterThanOrEqual(1);
    }
  });

  it('runs migrations in a Job, not in every API pod; budgets select their pods', () => {
    expect(of('Job')[0]!.spec.template.spec.containers[0].command).toEqual(['pnpm', 'db:migrate']);
    const api = deployments.find((d) => d.metadata.name === 'lrsweep-api')!;
    expect(api.spec.template.spec.containers[0].command.join(' ')).not.toContain('migrate');
    expect(api.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe('/readyz');
    for (const pdb of of('PodDisruptionBudget')) {
      const selected = deployments.filter((d) =>
        Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
      expect(selected, pdb.metadata.name).toHaveLength(1);
    }
    for (const d of deployments)
      for (const c of d.spec.template.spec.containers)
        expect(c.envFrom).toContainEqual({ secretRef: { name: of('Secret')[0]!.metadata.name } });
  });

  it(overlay === 'gpu' ? 'schedules GPU workers on GPU nodes with one GPU each' : 'has no GPU workers', () => {
    const gpu = workers.find((w) => w.metadata.name === 'lrsweep-worker-gpu');
    if (overlay === 'cpu') return expect(gpu).toBeUndefined();
    const spec = gpu!.spec.template.spec;
    expect(spec.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(spec.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(envOf(gpu!)).toMatchObject({ WORKER_POOLS: 'gpu', LRSWEEP_BACKEND: 'tensorflow-gpu' });
  });
});
