// Every route a user runs ray-tls by (docs/design.md §1), driven with the real kubectl,
// kpt and podman over copies of the shipped k8s/ manifests and of functions/, in a
// temp dir. Each test checks that the output really changed (kubectl silently skips
// some functions, §3.1): TLS env and the read-only mount in every Ray container, the
// cert-manager resources, nothing lost or doubled. Routes that run the same function
// over the same input must agree byte for byte.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { BUNDLE, KUBECTL_1_34, KUBECTL_1_35, ROOT } from '../support/paths.js';
import { requireRealTools } from '../support/realTools.js';

type Obj = Record<string, any>;
interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

const IMAGE = 'localhost/ray-tls:dev';
const CONTAINERS_CONF = join(ROOT, 'functions/container/containers.conf');
const PODMAN_ENV = { CONTAINERS_CONF };
const KPT_PODMAN_ENV = { CONTAINERS_CONF, KPT_FN_RUNTIME: 'podman' };
const CERT_MANAGER = [
  'Certificate/django-ray/django-ray-worker-ray-tls-client',
  'Certificate/django-ray/ray-tls-ca',
  'Issuer/django-ray/ray-tls-ca',
  'Issuer/django-ray/ray-tls-selfsigned',
];

function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; input?: string } = {},
): Ran {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 90_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** Runs a command that must succeed; fails the test with its stderr otherwise. */
function ok(cmd: string, args: string[], opts: Parameters<typeof sh>[2] = {}): Ran {
  const r = sh(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r;
}

const SDK = dirname(realpathSync(sh('sh', ['-c', 'command -v kubectl']).stdout.trim()));
// kubectl 1.34 and 1.35 (embedded kustomize 5.7.1) come from npm packages (scripts/ensure-k8s-tools.mjs).
const KUBECTLS = ['kubectl', join(SDK, 'kubectl.1.27'), join(SDK, 'kubectl.1.33'), KUBECTL_1_34, KUBECTL_1_35];
const name = (kubectl: string) => basename(kubectl);

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const id = (r: Obj) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/**
 * Every Ray container has the TLS env and the read-only mount; Ray nodes the init container; cert-manager resources
 * present.
 */
function expectTls(items: Obj[]): void {
  const ds = items.filter((i) => i.kind === 'Deployment');
  expect(ds.map((d) => d.metadata.name).sort()).toEqual(['django-ray-worker', 'ray-head', 'ray-worker']);
  for (const d of ds) {
    const spec = d.spec.template.spec;
    for (const c of spec.containers) {
      const env = Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value]));
      expect(env, `${d.metadata.name}/${c.name}`).toMatchObject({
        RAY_USE_TLS: '1',
        RAY_TLS_SERVER_CERT: '/etc/ray/tls/tls.crt',
        RAY_TLS_SERVER_KEY: '/etc/ray/tls/tls.key',
        RAY_TLS_CA_CERT: '/etc/ray/tls/ca.crt',
      });
      expect(c.volumeMounts, `${d.metadata.name}/${c.name}`).toContainEqual({
        name: 'ray-tls',
        mountPath: '/etc/ray/tls',
        readOnly: true,
      });
    }
    const isNode = d.metadata.name !== 'django-ray-worker';
    expect(
      spec.initContainers?.map((c: Obj) => c.name),
      d.metadata.name,
    ).toEqual(isNode ? ['ray-tls-init'] : undefined);
  }
  expect(
    items
      .filter((i) => i.apiVersion === 'cert-manager.io/v1')
      .map(id)
      .sort(),
  ).toEqual(CERT_MANAGER);
}

/** A resource minus what ray-tls adds (all of it is additive), to compare with the plain build. */
function withoutTls(r: Obj): Obj {
  const c = structuredClone(r);
  const t = c.spec?.template;
  if (!t) return c;
  const keep = (list: Obj[] | undefined, drop: (x: Obj) => boolean) => {
    const kept = (list ?? []).filter((x) => !drop(x));
    return kept.length ? kept : undefined;
  };
  if (t.metadata?.annotations) {
    delete t.metadata.annotations['ray-tls.io/injected'];
    if (!Object.keys(t.metadata.annotations).length) delete t.metadata.annotations;
  }
  const set = (o: Obj, key: string, v: unknown) => {
    if (v === undefined) delete o[key];
    else o[key] = v;
  };
  set(
    t.spec,
    'initContainers',
    keep(t.spec.initContainers, (x) => x.name === 'ray-tls-init'),
  );
  set(
    t.spec,
    'volumes',
    keep(t.spec.volumes, (x) => x.name.startsWith('ray-tls')),
  );
  for (const x of t.spec.containers) {
    set(
      x,
      'env',
      keep(x.env, (e) => /^RAY_(USE_TLS|TLS_)/.test(e.name)),
    );
    set(
      x,
      'volumeMounts',
      keep(x.volumeMounts, (m) => m.name.startsWith('ray-tls')),
    );
  }
  return c;
}

/** A kustomize build through ray-tls against the plain build of the same resources. */
function expectKustomizeOutput(out: string, plainOut: string): void {
  const items = docs(out);
  const plain = docs(plainOut);
  const ids = items.map(id);
  expect(new Set(ids).size, 'no duplicates').toBe(ids.length);
  expect([...ids].sort()).toEqual([...plain.map(id), ...CERT_MANAGER].sort());
  const byId = new Map(items.map((r) => [id(r), r]));
  for (const p of plain) expect(withoutTls(byId.get(id(p))!), id(p)).toEqual(p);
  expectTls(items);
  // Kustomize's own bookkeeping annotations went round the function and were removed again.
  expect(out).not.toMatch(/kustomize\.config\.k8s\.io\/id|config\.k8s\.io\/id|config\.kubernetes\.io\/index/);
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => statSync(join(dir, f)).isFile())
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}
/** All documents of a package's YAML files, minus the Kptfile, the Kustomization and the function config. */
const packageItems = (files: Record<string, string>): Obj[] =>
  Object.entries(files)
    .filter(([f]) => f.endsWith('.yaml'))
    .flatMap(([, text]) => docs(text))
    .filter((r) => !['Kptfile', 'Kustomization', 'RayTLS'].includes(r.kind));

// The workspace mirrors the repo: k8s/, functions/ and dist/ray-tls.js, so the shipped
// relative paths (../../../k8s/overlays/dev, the plugin's bundle lookup) are what run.
let ws = '';
beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'ray-tls-routes-'));
  cpSync(join(ROOT, 'k8s'), join(ws, 'k8s'), { recursive: true });
  cpSync(join(ROOT, 'functions'), join(ws, 'functions'), { recursive: true });
  mkdirSync(join(ws, 'dist'));
  cpSync(BUNDLE, join(ws, 'dist/ray-tls.js'));
});
afterAll(() => {
  if (ws) rmSync(ws, { recursive: true, force: true });
});

// Outputs of routes that later routes must equal byte for byte. Each route runs once, on
// first use, whichever test needs it first: a later comparison never depends on an
// earlier test having run (or passed).
let execRoute:
  | { before: Record<string, string>; log: string; after: Record<string, string>; again: Record<string, string> }
  | undefined;
let pipeRoute: { src: Record<string, string>; cat: Record<string, string>; fn: Record<string, string> } | undefined;

let dirs = 0;
/** A fresh kpt package: the k8s/base files, plus extra files copied from the workspace. */
function basePackage(extra: string[] = []): string {
  const dir = join(ws, `pkg-${++dirs}`);
  mkdirSync(dir);
  for (const f of readdirSync(join(ws, 'k8s/base'))) cpSync(join(ws, 'k8s/base', f), join(dir, f));
  for (const f of extra) cpSync(join(ws, f), join(dir, basename(f)));
  return dir;
}

/** kpt fn render --allow-exec over the exec Kptfile package, twice (run once per file). */
function execRendered(): NonNullable<typeof execRoute> {
  if (!execRoute) {
    const pkg = basePackage([
      'functions/kpt/exec/Kptfile',
      'functions/kpt/ray-tls-config.yaml',
      'functions/kpt/ray-tls-validate.yaml',
    ]);
    const before = snapshot(pkg);
    // `exec: dist/ray-tls.js` is relative to kpt's working directory: the workspace root.
    const first = ok('kpt', ['fn', 'render', pkg, '--allow-exec'], { cwd: ws });
    const after = snapshot(pkg);
    ok('kpt', ['fn', 'render', pkg, '--allow-exec'], { cwd: ws });
    execRoute = { before, log: first.stdout + first.stderr, after, again: snapshot(pkg) };
  }
  return execRoute;
}
/** kpt fn source | cat | kpt fn sink, and the same through node dist/ray-tls.js (run once per file). */
function piped(): NonNullable<typeof pipeRoute> {
  if (!pipeRoute) {
    const src = basePackage();
    const pipe = (filter: string, out: string) =>
      ok('bash', [
        '-o',
        'pipefail',
        '-c',
        `kpt fn source "$1" | ${filter} | kpt fn sink "$2"`,
        '_',
        src,
        out,
        join(ws, 'dist/ray-tls.js'),
      ]);
    pipe('cat', join(ws, 'pipe-cat'));
    pipe('node "$3"', join(ws, 'pipe-fn'));
    pipeRoute = { src: snapshot(src), cat: snapshot(join(ws, 'pipe-cat')), fn: snapshot(join(ws, 'pipe-fn')) };
  }
  return pipeRoute;
}

const plainBuilds = new Map<string, string>();
const plainDev = (kubectl: string) => {
  if (!plainBuilds.has(kubectl))
    plainBuilds.set(kubectl, ok(kubectl, ['kustomize', join(ws, 'k8s/overlays/dev')]).stdout);
  return plainBuilds.get(kubectl)!;
};
/**
 * For a legacy-plugin build: kustomize writes the plugin's config to $TMPDIR/kust-plugin-config-* and leaves it there
 * when the plugin fails.
 */
const pluginEnv = (pluginHome: string, extra: Record<string, string> = {}) => {
  mkdirSync(join(ws, 'tmp'), { recursive: true });
  return { KUSTOMIZE_PLUGIN_HOME: pluginHome, TMPDIR: join(ws, 'tmp'), ...extra };
};
const legacyBuilds = new Map<string, Ran>();
const legacyBuild = (kubectl: string) => {
  if (!legacyBuilds.has(kubectl)) {
    const env = pluginEnv(join(ws, 'functions/kustomize/legacy-exec/plugin'));
    legacyBuilds.set(
      kubectl,
      sh(kubectl, ['kustomize', '--enable-alpha-plugins', join(ws, 'functions/kustomize/legacy-exec')], { env }),
    );
  }
  return legacyBuilds.get(kubectl)!;
};

it('finds kubectl.1.27 and kubectl.1.33 beside kubectl, and kubectl 1.34 and 1.35', () => {
  for (const k of KUBECTLS) expect(sh(k, ['version', '--client']).status, k).toBe(0);
  expect(sh(KUBECTL_1_34, ['version', '--client']).stdout).toContain('Client Version: v1.34.');
  expect(sh(KUBECTL_1_35, ['version', '--client']).stdout).toContain('Client Version: v1.35.');
});

describe(
  'kubectl kustomize --enable-alpha-plugins with the legacy exec plugin ' + '(functions/kustomize/legacy-exec)',
  () => {
    it('ships the plugin executable at plugin/<group>/<version>/<lowercase kind>/<Kind>', () => {
      expect(
        statSync(join(ROOT, 'functions/kustomize/legacy-exec/plugin/ray-tls.io/v1alpha1/raytls/RayTLS')).mode & 0o111,
      ).toBe(0o111);
    });

    it.each(KUBECTLS.map(name))(
      '%s: runs the function; every resource of the plain build is still there once, plus the new ones',
      (k) => {
        const kubectl = KUBECTLS.find((x) => name(x) === k)!;
        const out = legacyBuild(kubectl);
        expect(out.status, out.stderr).toBe(0);
        expectKustomizeOutput(out.stdout, plainDev(kubectl));
        // The function's warnings reach the user only through kubectl 1.27 to 1.30 (kustomize
        // 5.0): from 1.31 (kustomize 5.4.2) a legacy plugin's stderr is dropped when it succeeds
        // (it is shown when it fails, next test). The container route shows them on every kubectl.
        const warning = 'warning: Ray serves unauthenticated HTTP on every node';
        if (k === 'kubectl.1.27') expect(out.stderr).toContain(warning);
        else expect(out.stderr).not.toContain(warning);
      },
    );

    it('gives the same bytes on every kubectl', () => {
      const outs = KUBECTLS.map((k) => legacyBuild(k).stdout);
      expect(new Set(outs).size).toBe(1);
    });

    it('fails loudly: a wrong config is a failed build with the function error on stderr', () => {
      const dir = join(ws, 'functions/kustomize/legacy-bad');
      cpSync(join(ws, 'functions/kustomize/legacy-exec'), dir, { recursive: true });
      const config = join(dir, 'ray-tls.yaml');
      writeFileSync(config, readFileSync(config, 'utf8').replace('mode: per-pod', 'mode: mutual'));
      const out = sh('kubectl', ['kustomize', '--enable-alpha-plugins', dir], { env: pluginEnv(join(dir, 'plugin')) });
      expect(out.status).not.toBe(0);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/error: .*"mutual" is not a mode/);
    });

    it('RAY_TLS_BUNDLE tells the plugin where the bundle is', () => {
      const dir = join(ws, 'functions/kustomize/legacy-exec');
      const missing = sh('kubectl', ['kustomize', '--enable-alpha-plugins', dir], {
        env: pluginEnv(join(dir, 'plugin'), { RAY_TLS_BUNDLE: join(ws, 'nowhere/ray-tls.js') }),
      });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain(`ray-tls plugin: ${join(ws, 'nowhere/ray-tls.js')} not found`);
      const repo = sh('kubectl', ['kustomize', '--enable-alpha-plugins', dir], {
        env: pluginEnv(join(dir, 'plugin'), { RAY_TLS_BUNDLE: BUNDLE }),
      });
      expect(repo.status, repo.stderr).toBe(0);
      expect(repo.stdout).toBe(legacyBuild('kubectl').stdout);
    });

    it('without --enable-alpha-plugins kubectl refuses the build (docs/design.md §5.6)', () => {
      const out = sh('kubectl', ['kustomize', join(ws, 'functions/kustomize/legacy-exec')], {
        env: pluginEnv(join(ws, 'functions/kustomize/legacy-exec/plugin')),
      });
      expect(out.status).not.toBe(0);
      expect(out.stderr).toContain("external plugins disabled; unable to load external plugin 'RayTLS'");
    });
  },
);

describe('the trap: kubectl silently skips an exec KRM function (docs/design.md §5.6)', () => {
  const trapDir = () => {
    const dir = join(ws, 'trap');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      'resources:\n- ../k8s/overlays/dev\ntransformers:\n- ray-tls.yaml\n',
    );
    writeFileSync(
      join(dir, 'ray-tls.yaml'),
      `apiVersion: ray-tls.io/v1alpha1
kind: RayTLS
metadata:
  name: ray-tls
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ${join(ws, 'dist/ray-tls.js')}
`,
    );
    return dir;
  };

  it('the exec path is a working function: run directly on the same resources it adds TLS', () => {
    const list = stringify(
      { apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items: docs(plainDev('kubectl')) },
      { version: '1.1', indentSeq: false },
    );
    const out = ok(join(ws, 'dist/ray-tls.js'), [], { input: list });
    expectTls(parse(out.stdout).items);
  });

  it.each(KUBECTLS.map(name))('%s: prints the input unchanged, exit 0, nothing on stderr', (k) => {
    const kubectl = KUBECTLS.find((x) => name(x) === k)!;
    const out = sh(kubectl, ['kustomize', '--enable-alpha-plugins', trapDir()]);
    expect(out.status).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(plainDev(kubectl));
    expect(out.stdout).not.toContain('RAY_USE_TLS');
  });
});

describe('kpt fn render --allow-exec (functions/kpt/exec)', () => {
  it('transforms the package, shows the results, and a second render changes nothing', () => {
    const { before, log, after, again } = execRendered();
    expect(log).toContain('[PASS] "dist/ray-tls.js"');
    expect(log).toContain('[info] apps/v1/Deployment/django-ray/ray-head: spec.template: Ray node');
    expect(log).toContain('[warning]: Ray serves unauthenticated HTTP on every node');
    // The validator (same function, validate: true) ran after the mutator and passed.
    expect(log.match(/\[PASS\] "dist\/ray-tls.js"/g)).toHaveLength(2);
    expect(log).toContain('ray-tls validate: 0 problem(s)');
    expect(log).toContain('Successfully executed 2 function(s) in 1 package(s).');
    expectTls(packageItems(after));
    expect(
      Object.keys(after)
        .filter((f) => after[f] !== before[f])
        .sort(),
    ).toEqual([
      'django-ray-worker-deployment.yaml',
      'ray-head-deployment.yaml',
      'ray-tls.yaml',
      'ray-worker-deployment.yaml',
    ]);
    expect(docs(after['ray-tls.yaml']).map(id).sort()).toEqual(CERT_MANAGER);
    expect(again).toEqual(after);
  });
});
describe('pipe: kpt fn source DIR | node dist/ray-tls.js | kpt fn sink OUT', () => {
  it('round-trips: OUT has the TLS content, untouched files are what a `cat` pipe gives', () => {
    const { src, cat, fn } = piped();
    expect(cat).toEqual(src);
    expectTls(packageItems(fn));
    const changed = Object.keys(fn)
      .filter((f) => fn[f] !== cat[f])
      .sort();
    expect(changed).toEqual([
      'django-ray-worker-deployment.yaml',
      'ray-head-deployment.yaml',
      'ray-tls.yaml',
      'ray-worker-deployment.yaml',
    ]);
    for (const f of Object.keys(cat)) if (!changed.includes(f)) expect(fn[f], f).toBe(cat[f]);
  });
});
/** Why podman cannot run containers here (undefined: it can). */
function podmanProblem(): string | undefined {
  const r = spawnSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], {
    env: { ...process.env, ...PODMAN_ENV },
    encoding: 'utf8',
    timeout: 90_000,
  });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 'podman is not installed';
  if (r.error) return `podman info failed: ${r.error.message}`;
  if (r.status !== 0) return `podman info failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`;
  return undefined;
}
// Fails the file when podman cannot run here, unless RAY_TLS_SKIP_REAL=1 (then a loud skip).
const podman = requireRealTools(
  'podman tests',
  podmanProblem(),
  'run npm test as root (scripts/ensure-deps.mjs --test installs podman and runc)',
);

describe.runIf(podman)('container routes with podman (image built by scripts/container.sh build)', () => {
  let shim = '';
  const started: string[] = [];
  beforeAll(() => {
    const built = sh('bash', [join(ROOT, 'scripts/container.sh'), 'build']);
    if (built.status !== 0) throw new Error(`scripts/container.sh build failed:\n${built.stderr}`);
    shim = join(ws, 'shim');
    ok('bash', [join(ROOT, 'scripts/container.sh'), 'shim', shim]);
  });
  /** podman run with a name of ours, so afterAll can remove it if a timeout left it behind. */
  const podmanRun = (args: string[], input?: string) => {
    const containerName = `ray-tls-routes-${process.pid}-${started.length}`;
    started.push(containerName);
    return sh('podman', ['run', '--rm', '--name', containerName, ...args], { env: PODMAN_ENV, input });
  };
  afterAll(() => {
    if (started.length) sh('podman', ['rm', '--force', '--ignore', ...started], { env: PODMAN_ENV });
  });

  it("the image holds this build of dist/ray-tls.js, runs as 65534:65534 (nobody), on the base's Node", () => {
    const user = ok('podman', ['image', 'inspect', '--format', '{{.Config.User}}', IMAGE], {
      env: PODMAN_ENV,
    }).stdout.trim();
    expect(user).toBe('65534:65534');
    const script =
      "const c=require('crypto'),f=require('fs');process.stdout.write(JSON.stringify({uid:process.getuid()," +
      "gid:process.getgid(),sha:c.createHash('sha256').update(f.readFileSync('/app/ray-tls.js')).digest('hex')," +
      'node:process.version}))';
    const out = podmanRun(['--network', 'none', '--entrypoint', '/nodejs/bin/node', IMAGE, '-e', script]);
    expect(out.status, out.stderr).toBe(0);
    const { node, ...rest } = JSON.parse(out.stdout);
    expect(rest).toEqual({ uid: 65534, gid: 65534, sha: sha256(readFileSync(BUNDLE)) });
    // These tests prove the function on the Node major that the Dockerfile's pinned base ships.
    const dockerfile = readFileSync(join(ROOT, 'functions/container/Dockerfile'), 'utf8');
    const base = /^ARG BASE=gcr\.io\/distroless\/nodejs(\d+)-debian\d+@sha256:[0-9a-f]{64}$/m.exec(dockerfile);
    expect(base, 'the Dockerfile pins a distroless Node base by digest').not.toBeNull();
    expect(node).toMatch(new RegExp(`^v${base![1]}\\.`));
    expect(Number(base![1])).toBeGreaterThanOrEqual(22);
  });

  it.each(KUBECTLS.map(name))(
    '%s kustomize --enable-alpha-plugins with the container: function (docker shim): the same output as the legacy ' +
      'plugin',
    (k) => {
      const kubectl = KUBECTLS.find((x) => name(x) === k)!;
      const out = sh(kubectl, ['kustomize', '--enable-alpha-plugins', join(ws, 'functions/kustomize/container')], {
        env: { PATH: `${shim}:${process.env.PATH}` },
      });
      expect(out.status, out.stderr).toBe(0);
      expectKustomizeOutput(out.stdout, plainDev(kubectl));
      expect(out.stderr).toContain('warning: Ray serves unauthenticated HTTP on every node');
      expect(out.stdout).toBe(legacyBuild(kubectl).stdout);
    },
  );

  it(
    'KPT_FN_RUNTIME=podman kpt fn render --image-pull-policy never (functions/kpt/image): the same files as the ' +
      'exec pipeline, idempotent',
    () => {
      const pkg = basePackage([
        'functions/kpt/image/Kptfile',
        'functions/kpt/ray-tls-config.yaml',
        'functions/kpt/ray-tls-validate.yaml',
      ]);
      const render = () => ok('kpt', ['fn', 'render', pkg, '--image-pull-policy', 'never'], { env: KPT_PODMAN_ENV });
      const log = render();
      expect(log.stdout + log.stderr).toContain(`[PASS] "${IMAGE}"`);
      const after = snapshot(pkg);
      expectTls(packageItems(after));
      render();
      expect(snapshot(pkg)).toEqual(after);
      const { Kptfile: _a, ...image } = after;
      const { Kptfile: _b, ...exec } = execRendered().after;
      expect(image).toEqual(exec);
    },
  );

  it('KPT_FN_RUNTIME=podman kpt fn eval --image: the same files as the pipe route', () => {
    const pkg = basePackage();
    const out = ok('kpt', ['fn', 'eval', pkg, '--image', IMAGE, '--image-pull-policy', 'never'], {
      env: KPT_PODMAN_ENV,
    });
    expect(out.stdout + out.stderr).toContain(`[PASS] "${IMAGE}"`);
    const after = snapshot(pkg);
    expectTls(packageItems(after));
    expect(after).toEqual(piped().fn);
  });

  const list = (functionConfig?: Obj) =>
    stringify(
      {
        apiVersion: 'config.kubernetes.io/v1',
        kind: 'ResourceList',
        items: docs(plainDev('kubectl')),
        ...(functionConfig && { functionConfig }),
      },
      { version: '1.1', indentSeq: false },
    );

  it('podman run -i --network none IMAGE < list.yaml: the same output as node dist/ray-tls.js', () => {
    const input = list();
    const out = podmanRun(['-i', '--network', 'none', IMAGE], input);
    expect(out.status, out.stderr).toBe(0);
    const rl = parse(out.stdout);
    expectTls(rl.items);
    expect(rl.results.map((r: Obj) => r.severity)).toContain('warning');
    expect(out.stdout).toBe(ok(process.execPath, [BUNDLE], { input }).stdout);
  });

  it('a wrong config: exit 1, the error on stderr, the input unchanged with error results', () => {
    const out = podmanRun(
      ['-i', '--network', 'none', IMAGE],
      list({ apiVersion: 'ray-tls.io/v1alpha1', kind: 'RayTLS', metadata: { name: 'x' }, spec: { mode: 'mutual' } }),
    );
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^error: .*"mutual" is not a mode/m);
    const rl = parse(out.stdout);
    expect(rl.results.filter((r: Obj) => r.severity === 'error')).toHaveLength(1);
    expect(out.stdout).not.toContain('RAY_USE_TLS');
    expect(rl.items.map(id)).toEqual(docs(plainDev('kubectl')).map(id));
  });

  it('leaves no container behind', () => {
    const left = ok('podman', ['ps', '--all', '--quiet', '--filter', `ancestor=${IMAGE}`], {
      env: PODMAN_ENV,
    }).stdout.trim();
    expect(left).toBe('');
  });
});
