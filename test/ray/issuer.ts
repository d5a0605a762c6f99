// A local stand-in for cert-manager: turns Issuer/ClusterIssuer/Certificate objects into
// directories laid out like the Secrets cert-manager writes (tls.key, tls.crt, ca.crt), so
// the real-Ray tests can mount them into local "pods" (podRunner.ts).
//
// Everything cryptographic is done by the real `openssl` CLI. Certificates are signed with
// `openssl ca` rather than `openssl x509 -req` because OpenSSL 3.0 (this machine) has no
// -not_before/-not_after for x509, while `openssl ca -startdate/-enddate` sets exact
// validity, which `duration` (hours, minutes) and the expired-certificate option need.
//
// What is modelled after cert-manager (pkg/util/pki, pkg/issuer/{ca,selfsigned}):
// - key: RSA 2048 by default; ECDSA 256/384/521 -> P-256/P-384/P-521; Ed25519. Encoded
//   PKCS#1 / SEC1 ("RSA PRIVATE KEY", "EC PRIVATE KEY") unless privateKey.encoding PKCS8.
// - usages default to "digital signature, key encipherment"; isCA adds "cert sign".
//   keyUsage and basicConstraints are critical (Go's x509 does that); basicConstraints is
//   always present (CA:FALSE for leaves). SANs are critical when the subject is empty.
// - duration defaults to 2160h (90 days); notBefore = now.
// - selfSigned issuer: ca.crt = tls.crt = the certificate itself.
// - ca issuer: tls.crt = leaf + the non-self-signed certificates of the CA Secret's tls.crt
//   (an intermediate's chain), ca.crt = the CA Secret's ca.crt (else the top of its chain).
// - renewal (renewCertificate): privateKey.rotationPolicy Never keeps the Secret's tls.key and
//   signs a new certificate for it (new serial, new validity); Always (cert-manager's default
//   since v1.18) makes a new key first. Either way the Secret is rewritten in place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ObjectMeta {
  name: string;
  namespace?: string;
}

export interface IssuerObject {
  apiVersion?: string;
  kind: 'Issuer' | 'ClusterIssuer';
  metadata: ObjectMeta;
  spec: { selfSigned?: object; ca?: { secretName: string } };
}

export interface CertificateObject {
  apiVersion?: string;
  kind: 'Certificate';
  metadata: ObjectMeta;
  spec: {
    secretName: string;
    issuerRef: { name: string; kind?: string; group?: string };
    isCA?: boolean;
    commonName?: string;
    subject?: { organizations?: string[]; organizationalUnits?: string[]; countries?: string[] };
    dnsNames?: string[];
    ipAddresses?: string[];
    uris?: string[];
    emailAddresses?: string[];
    usages?: string[];
    duration?: string;
    privateKey?: {
      algorithm?: 'RSA' | 'ECDSA' | 'Ed25519';
      size?: number;
      encoding?: 'PKCS1' | 'PKCS8';
      rotationPolicy?: RotationPolicy;
    };
  };
}

export type RotationPolicy = 'Never' | 'Always';

/** A validity window; a missing notBefore is now, a missing notAfter is notBefore + the Certificate's duration. */
export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
}

export interface IssueOptions {
  /** Names (metadata.name) of Certificates to issue already expired: notAfter = now - 1h. */
  expired?: readonly string[];
  /**
   * Names (metadata.name) of Certificates to issue with a chosen validity window instead of
   * now .. now + duration, e.g. a CA with 20 days left:
   * `{ 'ray-tls-ca': { notBefore: new Date(now - 70 * DAY), notAfter: new Date(now + 20 * DAY) } }`.
   */
  validity?: Readonly<Record<string, Validity>>;
  /** Secrets that exist before issuing, e.g. a hand-made CA: "namespace/name" or "name" -> dir. */
  secrets?: Readonly<Record<string, string>>;
  /** Namespace for objects without one (default "default"). */
  namespace?: string;
  /** Where ClusterIssuers' CA Secrets live (cert-manager's --cluster-resource-namespace). */
  clusterResourceNamespace?: string;
}

export interface IssuedSecret {
  namespace: string;
  /** The Secret's name (Certificate spec.secretName). */
  name: string;
  /** Directory holding tls.key, tls.crt, ca.crt. */
  dir: string;
  /** The Certificate's metadata.name. */
  certificate: string;
}

const OPENSSL = 'openssl';

/** Go duration ("8760h", "2160h0m0s", "90m", "1h30m45s") in milliseconds. */
export function parseDuration(text: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return total;
}

const KEY_USAGES: Record<string, string> = {
  signing: 'digitalSignature',
  'digital signature': 'digitalSignature',
  'content commitment': 'nonRepudiation',
  'key encipherment': 'keyEncipherment',
  'key agreement': 'keyAgreement',
  'data encipherment': 'dataEncipherment',
  'cert sign': 'keyCertSign',
  'crl sign': 'cRLSign',
  'encipher only': 'encipherOnly',
  'decipher only': 'decipherOnly',
};
const EXT_KEY_USAGES: Record<string, string> = {
  any: 'anyExtendedKeyUsage',
  'server auth': 'serverAuth',
  'client auth': 'clientAuth',
  'code signing': 'codeSigning',
  'email protection': 'emailProtection',
  's/mime': 'emailProtection',
  'ipsec end system': 'ipsecEndSystem',
  'ipsec tunnel': 'ipsecTunnel',
  'ipsec user': 'ipsecUser',
  timestamping: 'timeStamping',
  'ocsp signing': 'OCSPSigning',
  'microsoft sgc': 'msSGC',
  'netscape sgc': 'nsSGC',
};

function openssl(args: string[], cwd?: string): string {
  try {
    return execFileSync(OPENSSL, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

/** PEM certificates in a bundle, in order. */
export function splitPem(bundle: string): string[] {
  return (
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((c) => c.trimEnd() + '\n') ??
    []
  );
}

/** Runs fn with a helper that writes PEM text to temp files, all removed afterwards. */
function withTempFiles<T>(fn: (write: (content: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'ray-tls-issuer-'));
  let n = 0;
  try {
    return fn((content) => {
      const file = join(dir, `${n++}.pem`);
      writeFileSync(file, content);
      return file;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isSelfSigned(certPem: string): boolean {
  const out = withTempFiles((write) =>
    openssl(['x509', '-noout', '-subject', '-issuer', '-nameopt', 'RFC2253', '-in', write(certPem)]),
  );
  const subject = /^subject=(.*)$/m.exec(out)?.[1];
  const issuer = /^issuer=(.*)$/m.exec(out)?.[1];
  return subject === issuer;
}

/** `openssl ca` date, e.g. 20250102030405Z. */
function caDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function subjectArg(spec: CertificateObject['spec']): string {
  // Escape the characters -subj treats specially. Order follows Go's pkix.Name.ToRDNSequence.
  const esc = (v: string) => v.replace(/[\\/+=]/g, (c) => `\\${c}`);
  const parts: string[] = [];
  for (const c of spec.subject?.countries ?? []) parts.push(`C=${esc(c)}`);
  for (const o of spec.subject?.organizations ?? []) parts.push(`O=${esc(o)}`);
  for (const ou of spec.subject?.organizationalUnits ?? []) parts.push(`OU=${esc(ou)}`);
  if (spec.commonName) parts.push(`CN=${esc(spec.commonName)}`);
  return '/' + parts.join('/');
}

function generateKey(dir: string, pk: CertificateObject['spec']['privateKey']): { keyFile: string; md: string } {
  const algorithm = pk?.algorithm ?? 'RSA';
  const raw = join(dir, 'key.pkcs8.pem');
  let md = 'sha256';
  if (algorithm === 'RSA') {
    const size = pk?.size ?? 2048;
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${size}`, '-out', raw]);
  } else if (algorithm === 'ECDSA') {
    const size = pk?.size ?? 256;
    const curve = ({ 256: 'P-256', 384: 'P-384', 521: 'P-521' } as Record<number, string>)[size];
    if (!curve) throw new Error(`unsupported ECDSA size ${size}`);
    md = ({ 256: 'sha256', 384: 'sha384', 521: 'sha512' } as Record<number, string>)[size]!;
    openssl([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      `ec_paramgen_curve:${curve}`,
      '-pkeyopt',
      'ec_param_enc:named_curve',
      '-out',
      raw,
    ]);
  } else if (algorithm === 'Ed25519') {
    md = 'default';
    openssl(['genpkey', '-algorithm', 'ED25519', '-out', raw]);
  } else {
    throw new Error(`unsupported key algorithm ${String(algorithm)}`);
  }
  const keyFile = join(dir, 'tls.key');
  const pkcs1 = (pk?.encoding ?? 'PKCS1') === 'PKCS1' && algorithm !== 'Ed25519';
  // -traditional writes PKCS#1 for RSA and SEC1 for EC, as cert-manager's PKCS1 encoding does.
  openssl(['pkey', '-in', raw, '-out', keyFile, ...(pkcs1 ? ['-traditional'] : [])]);
  rmSync(raw);
  return { keyFile, md };
}

/** The x509v3 extension section cert-manager's template would produce. */
function extensions(spec: CertificateObject['spec'], selfSigned: boolean): string {
  const usages = spec.usages?.length ? [...spec.usages] : ['digital signature', 'key encipherment'];
  if (spec.isCA && !usages.includes('cert sign')) usages.push('cert sign');
  const ku: string[] = [];
  const eku: string[] = [];
  for (const u of usages) {
    const k = KEY_USAGES[u];
    const e = EXT_KEY_USAGES[u];
    if (k) ku.push(k);
    else if (e) eku.push(e);
    else throw new Error(`unknown usage ${JSON.stringify(u)} in Certificate`);
  }
  const sans = [
    ...(spec.dnsNames ?? []).map((n) => `DNS:${n}`),
    ...(spec.ipAddresses ?? []).map((n) => `IP:${n}`),
    ...(spec.uris ?? []).map((n) => `URI:${n}`),
    ...(spec.emailAddresses ?? []).map((n) => `email:${n}`),
  ];
  const emptySubject = subjectArg(spec) === '/';
  const lines = [`basicConstraints = critical,CA:${spec.isCA ? 'TRUE' : 'FALSE'}`];
  if (ku.length) lines.push(`keyUsage = critical,${[...new Set(ku)].join(',')}`);
  if (eku.length) lines.push(`extendedKeyUsage = ${[...new Set(eku)].join(',')}`);
  if (sans.length) lines.push(`subjectAltName = ${emptySubject ? 'critical,' : ''}${sans.join(',')}`);
  // Go adds a subject key id to CA certificates only, and an authority key id when the
  // parent has a subject key id; OpenSSL 3 would add both by default, so say so explicitly.
  lines.push(`subjectKeyIdentifier = ${spec.isCA ? 'hash' : 'none'}`);
  lines.push(`authorityKeyIdentifier = ${selfSigned ? 'none' : 'keyid'}`);
  return lines.join('\n') + '\n';
}

interface Signer {
  /** null: self-signed with the certificate's own key. */
  certFile: string | null;
  keyFile: string;
  md: string;
}

/**
 * Signs a certificate for `cert` into `workDir` (the Secret dir): with a new key written to
 * workDir/tls.key, or, with `existingKey` (a renewal under rotationPolicy Never), that key.
 */
function signCertificate(
  cert: CertificateObject,
  workDir: string,
  signer: Signer | null,
  validity: { notBefore: Date; notAfter: Date },
  existingKey?: string,
): { keyFile: string; certPem: string } {
  const spec = cert.spec;
  const { keyFile, md: ownMd } = existingKey
    ? { keyFile: existingKey, md: signatureDigest(existingKey) }
    : generateKey(workDir, spec.privateKey);
  const csr = join(workDir, 'req.csr');
  openssl(['req', '-new', '-key', keyFile, '-subj', subjectArg(spec), '-out', csr]);
  // A throwaway `openssl ca` database: every issue is independent.
  const db = mkdtempSync(join(workDir, 'ca-db-'));
  writeFileSync(join(db, 'index.txt'), '');
  mkdirSync(join(db, 'new'));
  writeFileSync(
    join(db, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = local',
      '[local]',
      `database = ${join(db, 'index.txt')}`,
      `new_certs_dir = ${join(db, 'new')}`,
      `serial = ${join(db, 'serial')}`,
      'rand_serial = yes',
      'unique_subject = no',
      'email_in_dn = no',
      'copy_extensions = none',
      'policy = any',
      '[any]',
      'commonName = optional',
      '',
    ].join('\n'),
  );
  const ext = join(db, 'ext.cnf');
  writeFileSync(ext, extensions(spec, signer === null));
  const out = join(db, 'cert.pem');
  const signing =
    signer === null ? ['-selfsign', '-keyfile', keyFile] : ['-cert', signer.certFile!, '-keyfile', signer.keyFile];
  const md = signer === null ? ownMd : signer.md;
  openssl([
    'ca',
    '-batch',
    '-config',
    join(db, 'ca.cnf'),
    '-in',
    csr,
    '-out',
    out,
    '-notext',
    '-preserveDN',
    '-md',
    md,
    '-extfile',
    ext,
    '-startdate',
    caDate(validity.notBefore),
    '-enddate',
    caDate(validity.notAfter),
    ...signing,
  ]);
  const certPem = splitPem(readFileSync(out, 'utf8'))[0];
  if (!certPem) throw new Error(`openssl ca wrote no certificate for ${cert.metadata.name}`);
  rmSync(db, { recursive: true, force: true });
  rmSync(csr);
  return { keyFile, certPem };
}

function isIssuer(o: unknown): o is IssuerObject {
  const k = (o as { kind?: unknown } | null)?.kind;
  return (k === 'Issuer' || k === 'ClusterIssuer') && typeof (o as IssuerObject).metadata?.name === 'string';
}
function isCertificate(o: unknown): o is CertificateObject {
  return (
    (o as { kind?: unknown } | null)?.kind === 'Certificate' &&
    typeof (o as CertificateObject).spec?.secretName === 'string'
  );
}

/**
 * Issues every Certificate among `objects` (other kinds are ignored, so a function's whole
 * output can be passed), in dependency order (a CA Certificate before the certificates its
 * CA Issuer signs). Each Secret is written to `outDir/<namespace>/<secretName>/`.
 * Throws when a Certificate's issuer or CA Secret can never be resolved.
 */
export function issueCertificates(
  objects: readonly unknown[],
  outDir: string,
  options: IssueOptions = {},
): IssuedSecret[] {
  const defaultNs = options.namespace ?? 'default';
  const clusterNs = options.clusterResourceNamespace ?? 'cert-manager';
  const issuers = new Map<string, IssuerObject>();
  for (const o of objects.filter(isIssuer)) {
    const ns = o.kind === 'ClusterIssuer' ? '' : (o.metadata.namespace ?? defaultNs);
    issuers.set(`${o.kind}/${ns}/${o.metadata.name}`, o);
  }
  // Secret dirs by "namespace/name".
  const secrets = new Map<string, string>();
  for (const [key, dir] of Object.entries(options.secrets ?? {}))
    secrets.set(key.includes('/') ? key : `${defaultNs}/${key}`, dir);

  const issued: IssuedSecret[] = [];
  let pending = objects.filter(isCertificate);
  const expired = new Set(options.expired ?? []);
  while (pending.length) {
    const waiting: CertificateObject[] = [];
    for (const cert of pending) {
      const ns = cert.metadata.namespace ?? defaultNs;
      const ref = cert.spec.issuerRef;
      const kind = ref.kind ?? 'Issuer';
      const issuer = issuers.get(`${kind}/${kind === 'ClusterIssuer' ? '' : ns}/${ref.name}`);
      if (!issuer) throw new Error(`Certificate ${ns}/${cert.metadata.name}: ${kind} ${ref.name} not found`);
      let caDir: string | undefined;
      if (issuer.spec.ca) {
        const secretNs = issuer.kind === 'ClusterIssuer' ? clusterNs : ns;
        caDir = secrets.get(`${secretNs}/${issuer.spec.ca.secretName}`);
        if (!caDir) {
          waiting.push(cert); // its CA Secret may be issued later in this loop
          continue;
        }
      } else if (!issuer.spec.selfSigned) {
        throw new Error(`${issuer.kind} ${issuer.metadata.name}: only selfSigned and ca issuers are supported`);
      }
      const dir = join(outDir, ns, cert.spec.secretName);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const chosen = options.validity?.[cert.metadata.name];
      if (chosen && expired.has(cert.metadata.name))
        throw new Error(`Certificate ${cert.metadata.name}: both ` + `expired and validity given`);
      const validity = expired.has(cert.metadata.name) ? expiredValidity(cert) : validityOf(cert, chosen);
      writeSecret(cert, dir, caDir, validity);
      secrets.set(`${ns}/${cert.spec.secretName}`, dir);
      issued.push({ namespace: ns, name: cert.spec.secretName, dir, certificate: cert.metadata.name });
    }
    if (waiting.length === pending.length) {
      const names = waiting.map((c) => `${c.metadata.name} (issuer ${c.spec.issuerRef.name})`).join(', ');
      throw new Error(`cannot issue ${names}: their CA Secrets are neither issued here nor given in options.secrets`);
    }
    pending = waiting;
  }
  return issued;
}

/** now .. now + the Certificate's duration, or the chosen window (see Validity). */
function validityOf(cert: CertificateObject, chosen: Validity = {}): { notBefore: Date; notAfter: Date } {
  const duration = parseDuration(cert.spec.duration ?? '2160h');
  const notBefore = chosen.notBefore ?? new Date();
  const notAfter = chosen.notAfter ?? new Date(notBefore.getTime() + duration);
  if (notAfter <= notBefore)
    throw new Error(
      `Certificate ${cert.metadata.name}: notAfter ${notAfter.toISOString()} ` +
        `is not after notBefore ${notBefore.toISOString()}`,
    );
  return { notBefore, notAfter };
}

function expiredValidity(cert: CertificateObject): { notBefore: Date; notAfter: Date } {
  const duration = parseDuration(cert.spec.duration ?? '2160h');
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000 - duration), notAfter: new Date(now - 3_600_000) };
}

/**
 * Signs `cert` and writes tls.crt and ca.crt (and tls.key, unless `existingKey` is that file)
 * into the Secret dir `dir`: self-signed without `caDir`, else by the CA Secret in `caDir`.
 */
function writeSecret(
  cert: CertificateObject,
  dir: string,
  caDir: string | undefined,
  validity: { notBefore: Date; notAfter: Date },
  existingKey?: string,
): void {
  let tlsCrt: string;
  let caCrt: string;
  if (caDir) {
    const chain = splitPem(readFileSync(join(caDir, 'tls.crt'), 'utf8'));
    if (!chain[0]) throw new Error(`CA Secret ${caDir} has no certificate in tls.crt`);
    const caKey = join(caDir, 'tls.key');
    const { certPem } = withTempFiles((write) =>
      signCertificate(
        cert,
        dir,
        { certFile: write(chain[0]!), keyFile: caKey, md: signatureDigest(caKey) },
        validity,
        existingKey,
      ),
    );
    tlsCrt = [certPem, ...chain.filter((c) => !isSelfSigned(c))].join('');
    const caFile = join(caDir, 'ca.crt');
    caCrt =
      existsSync(caFile) && readFileSync(caFile, 'utf8').trim()
        ? readFileSync(caFile, 'utf8')
        : chain[chain.length - 1]!;
  } else {
    const { certPem } = signCertificate(cert, dir, null, validity, existingKey);
    tlsCrt = certPem;
    caCrt = certPem;
  }
  writeFileSync(join(dir, 'tls.crt'), tlsCrt);
  writeFileSync(join(dir, 'ca.crt'), caCrt);
}

export interface RenewOptions {
  /**
   * The CA Secret dir of the Certificate's CA Issuer (what issueCertificates wrote for it, or a
   * hand-made one); omitted: the Certificate's issuer is selfSigned (e.g. a CA Certificate).
   */
  issuerSecret?: string;
  /** Overrides spec.privateKey.rotationPolicy; default from the spec, else Always (cert-manager v1.18+). */
  rotationPolicy?: RotationPolicy;
  /** The renewed certificate's window (default now .. now + duration). */
  validity?: Validity;
}

export interface RenewResult {
  dir: string;
  rotationPolicy: RotationPolicy;
  /** Whether tls.key changed (Always) or was kept (Never). */
  keyChanged: boolean;
  /** Serial numbers (hex, as openssl prints them) before and after. */
  serialBefore: string;
  serialAfter: string;
}

/** `openssl x509 -serial` of the first certificate in a file. */
export function serialOf(file: string): string {
  return openssl(['x509', '-in', file, '-noout', '-serial'])
    .trim()
    .replace(/^serial=/, '');
}

/**
 * Renews the Certificate `cert` whose Secret is the dir `secretDir`, in place, as cert-manager
 * does when a certificate nears its expiry: rotationPolicy Never signs a new certificate (new
 * serial, new validity) for the Secret's existing tls.key; Always makes a new key first.
 * tls.crt and ca.crt are rewritten as at issue (a self-signed CA's ca.crt is the new
 * certificate itself). Leaves issued earlier are not touched (cert-manager does not re-issue
 * them either, docs/design.md §5.4).
 */
export function renewCertificate(cert: CertificateObject, secretDir: string, options: RenewOptions = {}): RenewResult {
  const keyFile = join(secretDir, 'tls.key');
  const crtFile = join(secretDir, 'tls.crt');
  if (!existsSync(keyFile) || !existsSync(crtFile))
    throw new Error(`renew ${cert.metadata.name}: ${secretDir} has ` + `no tls.key and tls.crt to renew`);
  const rotationPolicy = options.rotationPolicy ?? cert.spec.privateKey?.rotationPolicy ?? 'Always';
  if (rotationPolicy !== 'Never' && rotationPolicy !== 'Always')
    throw new Error(
      `renew ${cert.metadata.name}: ` + `rotationPolicy must be Never or Always, got ${String(rotationPolicy)}`,
    );
  const keyBefore = readFileSync(keyFile, 'utf8');
  const serialBefore = serialOf(crtFile);
  writeSecret(
    cert,
    secretDir,
    options.issuerSecret,
    validityOf(cert, options.validity),
    rotationPolicy === 'Never' ? keyFile : undefined,
  );
  return {
    dir: secretDir,
    rotationPolicy,
    keyChanged: readFileSync(keyFile, 'utf8') !== keyBefore,
    serialBefore,
    serialAfter: serialOf(crtFile),
  };
}

/** The digest cert-manager (Go) signs with for a given issuer key. */
function signatureDigest(keyFile: string): string {
  const text = openssl(['pkey', '-in', keyFile, '-noout', '-text']);
  if (/ED25519/i.test(text)) return 'default';
  if (/NIST CURVE: P-384/.test(text)) return 'sha384';
  if (/NIST CURVE: P-521/.test(text)) return 'sha512';
  return 'sha256';
}

/** Secret name -> dir for one namespace, the shape PodCluster's `secrets` option takes. */
export function secretDirs(issued: readonly IssuedSecret[], namespace = 'default'): Record<string, string> {
  return Object.fromEntries(issued.filter((s) => s.namespace === namespace).map((s) => [s.name, s.dir]));
}

/** `openssl x509 -text` of the first certificate in a file, for assertions. */
export function certificateText(file: string): string {
  return openssl(['x509', '-in', file, '-noout', '-text']);
}

/** `openssl verify` of a leaf (first cert of tls.crt, rest as untrusted chain) against ca.crt. */
export function verifySecret(dir: string, purpose?: 'sslserver' | 'sslclient'): { ok: boolean; output: string } {
  const chain = splitPem(readFileSync(join(dir, 'tls.crt'), 'utf8'));
  return withTempFiles((write) => {
    const args = ['verify', '-CAfile', join(dir, 'ca.crt'), ...(purpose ? ['-purpose', purpose] : [])];
    if (chain.length > 1) args.push('-untrusted', write(chain.slice(1).join('')));
    args.push(write(chain[0] ?? ''));
    try {
      return { ok: true, output: execFileSync(OPENSSL, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  });
}

/**
 * A corporate PKI as a `ca.issuerRef` user has one, laid out as cert-manager does: a self-signed
 * root, an issuing CA under it (their Secrets in `namespace`, cert-manager's cluster resource
 * namespace), and the ClusterIssuer `issuer` that signs with the issuing CA: what `ca.issuerRef`
 * names. Each namespace CA it signs (ray-tls's, and any sibling's) gets tls.crt = the CA, then the
 * issuing CA; ca.crt = the root. Pass these objects to issueCertificates with the function's output
 * and `clusterResourceNamespace: namespace`.
 */
export function corporatePki(
  issuer = 'corp-issuing',
  namespace = 'cert-manager',
): (IssuerObject | CertificateObject)[] {
  const ca = (name: string, parent: string): CertificateObject => ({
    kind: 'Certificate',
    metadata: { name, namespace },
    spec: {
      secretName: name,
      isCA: true,
      commonName: name,
      privateKey: { algorithm: 'ECDSA', size: 256 },
      issuerRef: { name: parent, kind: 'ClusterIssuer' },
    },
  });
  const clusterIssuer = (name: string, spec: IssuerObject['spec']): IssuerObject => ({
    kind: 'ClusterIssuer',
    metadata: { name },
    spec,
  });
  return [
    clusterIssuer('corp-selfsigned', { selfSigned: {} }),
    ca('corp-root', 'corp-selfsigned'),
    clusterIssuer('corp-root', { ca: { secretName: 'corp-root' } }),
    ca('corp-issuing-ca', 'corp-root'),
    clusterIssuer(issuer, { ca: { secretName: 'corp-issuing-ca' } }),
  ];
}

/**
 * Another namespace CA under the same ClusterIssuer (a sibling of ray-tls's namespace CA: another
 * team's, or one an attacker obtained from the corporate PKI), its CA Issuer, and leaves it signs:
 * `nodes` (server and client auth) and `clients` (client auth), all in `namespace`.
 */
export function siblingCa(
  namespace: string,
  leaves: { nodes?: string[]; clients?: string[] },
  issuer = 'corp-issuing',
): (IssuerObject | CertificateObject)[] {
  const leaf = (name: string, usages: string[]): CertificateObject => ({
    kind: 'Certificate',
    metadata: { name, namespace },
    spec: { secretName: name, commonName: name, usages, issuerRef: { name: 'sibling-ca' } },
  });
  return [
    {
      kind: 'Certificate',
      metadata: { name: 'sibling-ca', namespace },
      spec: {
        secretName: 'sibling-ca',
        isCA: true,
        commonName: `sibling CA (${namespace})`,
        issuerRef: { name: issuer, kind: 'ClusterIssuer' },
      },
    },
    { kind: 'Issuer', metadata: { name: 'sibling-ca', namespace }, spec: { ca: { secretName: 'sibling-ca' } } },
    ...(leaves.nodes ?? []).map((n) =>
      leaf(n, ['digital signature', 'key encipherment', 'server auth', 'client auth']),
    ),
    ...(leaves.clients ?? []).map((n) => leaf(n, ['digital signature', 'key encipherment', 'client auth'])),
  ];
}
