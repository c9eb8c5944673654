// What the benchmarks that put tcr beside podman share: private stores,
// state roots, locks and (optionally) a netavark config dir for both in one
// temp dir; the same busybox rootfs imported into each; and a clean-up that
// leaves nothing of either behind. podman's runtime is always named (where
// crun is installed podman picks it, and crun refuses hybrid hosts), and its
// containers get the rlimits this sandbox can grant.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class PodmanSide {
  /**
   * @param {string} repo the tcr checkout (bin/tcr, demo/)
   * @param {string} tmp the benchmark's temp dir, removed by cleanup()
   * @param {{ cgroupParent: string, netavark?: boolean }} o cgroupParent: podman's containers' parent cgroup;
   *   netavark: podman networks in a config dir of the bench's own
   */
  constructor(repo, tmp, o) {
    this.repo = repo;
    this.tmp = tmp;
    this.tcrBin = path.join(repo, 'bin', 'tcr');
    this.runtime = process.env.PODMAN_RUNTIME ?? 'runc';
    this.cgroupParent = o.cgroupParent;
    this.podmanArgs = ['--runtime', this.runtime, '--root', path.join(tmp, 'pstore'), '--runroot', path.join(tmp, 'prun')];
    this.podmanArgs.push('--tmpdir', path.join(tmp, 'ptmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'none');
    this.tcrArgs = ['--root', path.join(tmp, 'state'), '--store', path.join(tmp, 'store')];
    /** `podman run` and the flags every podman container of a bench gets */
    this.podmanRun = ['run', '--cgroup-parent', o.cgroupParent, '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
    let conf = `[engine]\nlock_type = "file"\nvolume_path = "${tmp}/volumes"\n`;
    if (o.netavark) {
      fs.mkdirSync(path.join(tmp, 'pnet'));
      conf += `[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "${tmp}/pnet"\n`;
    }
    fs.writeFileSync(path.join(tmp, 'containers.conf'), conf);
    process.env.CONTAINERS_CONF = path.join(tmp, 'containers.conf');
  }

  podman(args, opts = {}) {
    return execFileSync('podman', [...this.podmanArgs, ...args], { encoding: 'utf8', ...opts });
  }

  tcr(args, opts = {}) {
    return execFileSync(this.tcrBin, [...this.tcrArgs, ...args], { encoding: 'utf8', ...opts });
  }

  /** The demo's busybox as `busybox` in tcr's store and `localhost/busybox` in podman's. */
  importBusybox() {
    this.tcr(['import', '-q', path.join(this.repo, 'demo', 'busybox-oci'), 'busybox'], { stdio: 'ignore' });
    const tar = spawnSync('tar', ['-C', path.join(this.repo, 'demo', 'busybox', 'rootfs'), '-c', '.'], { maxBuffer: 1 << 28 });
    this.podman(['import', '--change', 'CMD ["sh"]', '-', 'localhost/busybox:latest'], {
      input: tar.stdout,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  }

  /** Removes every container, network and file of both, and podman's per-container cgroups under its parent. */
  cleanup(podmanNetworks = []) {
    const quiet = { stdio: 'ignore' };
    spawnSync('podman', [...this.podmanArgs, 'rm', '-a', '-f', '-t', '0'], quiet);
    for (const n of podmanNetworks) spawnSync('podman', [...this.podmanArgs, 'network', 'rm', '-f', n], quiet);
    spawnSync('podman', [...this.podmanArgs, 'system', 'reset', '-f'], quiet);
    const state = path.join(this.tmp, 'state');
    for (const id of fs.existsSync(state) ? fs.readdirSync(state).filter((i) => !i.startsWith('.')) : [])
      spawnSync(this.tcrBin, [...this.tcrArgs, 'rm', '-f', id], quiet);
    spawnSync('umount', ['-R', path.join(this.tmp, 'pstore')], quiet);
    const rmTree = (dir) => {
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
      try {
        fs.rmdirSync(dir);
      } catch {
        // still in use: the bench's own check reports it
      }
    };
    for (const h of fs.readdirSync('/sys/fs/cgroup')) rmTree(path.join('/sys/fs/cgroup', h, this.cgroupParent));
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
