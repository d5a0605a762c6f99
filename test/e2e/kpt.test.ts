// kpt fn eval --exec with the real kpt: new resources land in their own file,
// files the function does not change stay byte-identical (head comments too),
// and a second run changes nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BUNDLE } from '../support/paths.js';

const files: Record<string, string> = {
  'ray-head.yaml': `# Ray head for django-ray.
# Two comment lines at the top: kpt sends them inside the item.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ray-head # the head
  namespace: django-ray
spec:
  selector:
    matchLabels: {app: ray-head}
  template:
    metadata:
      labels: {app: ray-head}
    spec:
      containers:
      - name: ray-head
        image: rayproject/ray:2.58.0
        args: ["ray", "start", "--head", "--block"]
`,
  'service.yaml': `# The head's Service: not changed, so byte-identical.
apiVersion: v1
kind: Service
metadata:
  name: ray-head
  namespace: django-ray
spec:
  selector: {app: ray-head}
  ports:
    - {name: client, port: 10001}   # kpt itself normalises this comment's spacing
`,
  'settings.yaml': `# Not Ray at all
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: django-ray
data:
  flag: on
  mode: 0644
---
# a second document in the same file
apiVersion: v1
kind: ConfigMap
metadata:
  name: more
  namespace: django-ray
data: {a: "1"}
`,
};

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

describe('kpt fn eval --exec', () => {
  it('transforms the package, keeps untouched files byte-identical, and is idempotent', () => {
    const pkg = () => {
      const dir = mkdtempSync(join(tmpdir(), 'ray-tls-kpt-'));
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      return dir;
    };
    const kpt = (dir: string, fn: string) =>
      execFileSync('kpt', ['fn', 'eval', dir, '--exec', fn], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // The baseline: what kpt writes through a function that changes nothing.
    const identity = join(mkdtempSync(join(tmpdir(), 'ray-tls-cat-')), 'identity');
    writeFileSync(identity, '#!/bin/sh\nexec cat\n', { mode: 0o755 });
    const baseDir = pkg();
    kpt(baseDir, identity);
    const baseline = snapshot(baseDir);
    expect(baseline['settings.yaml']).toBe(files['settings.yaml']);

    const dir = pkg();
    const log1 = kpt(dir, BUNDLE);
    const first = snapshot(dir);
    expect(first['service.yaml']).toBe(baseline['service.yaml']);
    expect(first['settings.yaml']).toBe(files['settings.yaml']);
    // The changed file keeps its head comment exactly once, and gained the TLS setup.
    expect(
      first['ray-head.yaml'].startsWith(
        '# Ray head for django-ray.\n# Two comment lines at the top: kpt sends them inside the item.\napiVersion: ' +
          'apps/v1\n',
      ),
    ).toBe(true);
    expect(first['ray-head.yaml'].match(/# Ray head for django-ray/g)).toHaveLength(1);
    expect(first['ray-head.yaml']).toContain('name: ray-head # the head');
    expect(first['ray-head.yaml']).toContain('name: RAY_USE_TLS');
    expect(first['ray-head.yaml']).toContain('- name: ray-tls-init');
    // New resources land in their own file.
    const kinds = parseAllDocuments(first['ray-tls.yaml']).map(
      (d) => `${d.get('kind')}/${(d.get('metadata') as any).get('name')}`,
    );
    expect(kinds).toEqual(['Issuer/ray-tls-selfsigned', 'Certificate/ray-tls-ca', 'Issuer/ray-tls-ca']);
    expect(first['ray-tls.yaml']).not.toContain('config.kubernetes.io/path');

    const log2 = kpt(dir, BUNDLE);
    expect(snapshot(dir)).toEqual(first);
    expect(log1 + log2).not.toContain('[error]');
  });
});
