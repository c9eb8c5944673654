// Packs the demo busybox rootfs (rootfs/make-busybox.sh) as an OCI image
// layout, so `tcr import` puts a `busybox` image in the store and the README's
// `tcr run busybox ...` needs no registry. Usage: node rootfs/make-demo-image.mjs ROOTFS OUTDIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pack } from 'tar-stream';

const [rootfs, outDir] = process.argv.slice(2);
if (!rootfs || !outDir) throw new Error('usage: make-demo-image.mjs ROOTFS OUTDIR');

/** Adds every entry under dir to the tar, parents first, in a stable order. */
function addTree(p, dir, rel = '') {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(path.join(dir, r));
    const common = { name: r, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: new Date(0) };
    if (st.isDirectory()) {
      p.entry({ ...common, type: 'directory' });
      addTree(p, dir, r);
    } else if (st.isSymbolicLink()) {
      p.entry({ ...common, type: 'symlink', linkname: fs.readlinkSync(path.join(dir, r)) });
    } else if (st.isFile()) {
      p.entry({ ...common, type: 'file', size: st.size }, fs.readFileSync(path.join(dir, r)));
    }
  }
}

const tarChunks = [];
const p = pack();
p.on('data', (c) => tarChunks.push(c));
const done = new Promise((r) => p.on('end', r));
addTree(p, rootfs);
p.finalize();
await done;
const tar = Buffer.concat(tarChunks);
const gz = zlib.gzipSync(tar);
const sha = (b) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

const blobs = path.join(outDir, 'blobs', 'sha256');
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(blobs, { recursive: true });
const put = (b) => {
  const d = sha(b);
  fs.writeFileSync(path.join(blobs, d.slice(7)), b);
  return { digest: d, size: b.length };
};
const layer = put(gz);
const config = Buffer.from(
  JSON.stringify({
    created: '2026-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    history: [{ created: '2026-01-01T00:00:00Z', created_by: "tcr's rootfs/make-demo-image.mjs from Debian's busybox-static" }],
  }),
);
const cfg = put(config);
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }),
);
const man = put(manifest);
fs.writeFileSync(path.join(outDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
fs.writeFileSync(
  path.join(outDir, 'index.json'),
  JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...man,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
  }),
);
