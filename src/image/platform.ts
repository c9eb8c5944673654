// Which manifest of an image index runs here: os linux and this machine's
// architecture, as Go (and so the OCI image spec) names it.
import { TcrError } from '../errors.js';
import { MEDIA, type Descriptor, type ImageIndex } from './types.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64el: 'mips64le',
  loong64: 'loong64',
};

/** linux/amd64 on this machine; $TCR_PLATFORM (os/arch[/variant]) overrides it. */
export function hostPlatform(env: NodeJS.ProcessEnv = process.env): Platform {
  if (env.TCR_PLATFORM) return parsePlatform(env.TCR_PLATFORM);
  const architecture = GOARCH[process.arch] ?? process.arch;
  return { os: 'linux', architecture, variant: architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new TcrError(`platform ${JSON.stringify(s)}: expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
  return { os, architecture, variant };
}

export function formatPlatform(p: Descriptor['platform'] | Platform | undefined): string {
  if (!p) return 'unknown platform';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function isIndex(mediaType: string | undefined, doc: { manifests?: unknown; layers?: unknown }): boolean {
  if (mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerManifestList) return true;
  if (mediaType === MEDIA.ociManifest || mediaType === MEDIA.dockerManifest) return false;
  return Array.isArray(doc.manifests) && !('layers' in doc);
}

/**
 * The descriptor of the manifest for `want` among an index's entries.
 * Entries without a platform count only when they are the only image entry
 * (an OCI layout's index.json often has one plain entry).
 */
export function selectPlatform(index: ImageIndex, want: Platform, what: string): Descriptor {
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) throw new TcrError(`${what}: the image index lists no manifests`);
  // docker buildx adds attestation manifests with platform unknown/unknown: never images
  const images = index.manifests.filter(
    (d) => d.platform?.os !== 'unknown' && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
  );
  const exact = images.filter((d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture);
  if (exact.length) {
    // prefer the exact variant, then one without a variant, then any
    return exact.find((d) => d.platform?.variant === want.variant) ?? exact.find((d) => !d.platform?.variant) ?? exact[0];
  }
  if (images.length === 1 && !images[0].platform) return images[0];
  const have = [...new Set(images.map((d) => formatPlatform(d.platform)))].join(', ');
  throw new TcrError(`${what}: no image for ${formatPlatform(want)}; the index has: ${have || 'nothing usable'}`);
}
