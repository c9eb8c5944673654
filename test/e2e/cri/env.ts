// A private containerd 1.6 with its CRI plugin, as a kubelet's node has it,
// for test/e2e/cri.test.ts and bench/pod.js: everything in one temp dir
// (config, root, state, sockets, CNI config and IPAM data, netns mounts, pod
// logs, the runtimes' roots), two runtime handlers (`runc` and `tcr`, both
// io.containerd.runc.v2 with BinaryName a wrapper that records each call and
// its exit status), a pause image and a busybox image built here and
// imported (no registry), CNI through a bridge made here on a private subnet
// with host-local IPAM. No iptables rule and no host sysctl is touched: the
// bridge has no masquerading and is no gateway (the host reaches pods on the
// bridge's own subnet), so the bridge plugin leaves ip_forward alone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO, mountsUnder, pidsWithRootUnder } from '../../helpers.js';
import {
  buildOciArchive,
  containerdConfig,
  pidsMentioning,
  removeNew,
  run,
  snapshotPaths,
  startContainerd,
  stopContainerd,
  unmountUnder,
  waitFor,
  which,
  writeRuntimeWrapper,
  type Containerd,
  type Lane,
} from '../lib.js';
import { cgroupDirsBelow, removeCgroupTree, unmountedHierarchies } from './cgroups.js';
import { CriClient, type Msg } from './client.js';

export const PAUSE_IMAGE = 'localhost/tcr-e2e/pause:1';
export const BUSYBOX_IMAGE = 'localhost/tcr-e2e/busybox:1';
const NAMESPACE = 'k8s.io';
const DEFAULT_NAMESPACES = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' };
const CNI_BIN = '/usr/lib/cni';
// what containerd 1.6, its shims and the CNI plugins make on the host outside
// the config's dirs; each removed afterwards when it did not exist before
const HOST_PATHS = ['/run/containerd', '/run/containerd/s', '/var/lib/cni', '/var/lib/cni/results', '/var/lib/cni/cache'];
// candidate pod subnets: the first one no address or route of the host touches
const SUBNETS = ['10.213.7', '10.213.97', '10.231.41', '172.29.213'];

export const criAvailable = (): boolean =>
  process.getuid?.() === 0 &&
  !!which('containerd') &&
  !!which('ctr') &&
  !!which('containerd-shim-runc-v2') &&
  !!which('ip') &&
  fs.existsSync(path.join(CNI_BIN, 'bridge')) &&
  fs.existsSync(path.join(CNI_BIN, 'host-local')) &&
  fs.existsSync(path.join(CNI_BIN, 'loopback'));

/** A /24 whose prefix no host address or route mentions, and a bridge name no link has. */
function pickNetwork(): { prefix: string; bridge: string } {
  const addrs = run('ip', ['-4', '-o', 'addr']).stdout + run('ip', ['-4', 'route', 'show', 'table', 'all']).stdout;
  const prefix = SUBNETS.find((p) => !addrs.includes(`${p}.`));
  if (!prefix) throw new Error(`no free pod subnet among ${SUBNETS.join(', ')}`);
  const links = run('ip', ['-o', 'link']).stdout;
  for (let i = 0; i < 100; i++) {
    const bridge = `tcrcri${i}`;
    if (!links.includes(` ${bridge}:`)) return { prefix, bridge };
  }
  throw new Error('no free bridge name');
}

export interface PodOptions {
  hostname?: string;
  dns?: { servers: string[]; searches: string[]; options: string[] };
  /** LinuxSandboxSecurityContext */
  security?: Msg;
  sysctls?: Record<string, string>;
}

export interface ContainerOptions {
  image?: string;
  env?: Record<string, string>;
  /** LinuxContainerSecurityContext */
  security?: Msg;
  /** LinuxContainerResources */
  resources?: Msg;
  mounts?: Msg[];
  stdin?: boolean;
  tty?: boolean;
}

export interface Pod {
  id: string;
  config: Msg;
  lane: string;
  cgroupParent: string;
}

export class CriEnv {
  readonly cri: CriClient;
  /** the pod subnet, e.g. 10.213.7: pods get .2 and up, the bridge is .1 */
  readonly prefix: string;
  readonly bridge: string;
  /** cgroups of every pod go below this (relative to each hierarchy's root) */
  readonly cgroupRoot: string;
  private seq = 0;

  private constructor(
    readonly dir: string,
    readonly containerd: Containerd,
    net: { prefix: string; bridge: string },
  ) {
    this.cri = new CriClient(containerd.address);
    this.prefix = net.prefix;
    this.bridge = net.bridge;
    this.cgroupRoot = path.basename(dir);
  }

  get address(): string {
    return this.containerd.address;
  }

  /** The runtime's --root for this lane, as the shim passes it (Root option + the namespace). */
  runtimeRoot(lane: string): string {
    return path.join(this.dir, 'roots', lane, NAMESPACE);
  }

  callLog(lane: string): string {
    return path.join(this.dir, `${lane}-calls.log`);
  }

  static async start(lanes: Lane[]): Promise<CriEnv> {
    const before = snapshotPaths(HOST_PATHS);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-e2e-cri-'));
    fs.writeFileSync(path.join(dir, 'host-paths.json'), JSON.stringify([...before]));
    const net = pickNetwork();
    let env: CriEnv | undefined;
    let containerd: Containerd | undefined;
    try {
      const bin = path.join(dir, 'bin');
      const runtimes = lanes.flatMap((lane) => {
        const wrapper = writeRuntimeWrapper(path.join(bin, lane.name), lane, path.join(dir, `${lane.name}-calls.log`), [], true);
        const t = `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${lane.name}]`;
        return [
          t,
          '  runtime_type = "io.containerd.runc.v2"',
          `${t.slice(0, -1)}.options]`,
          `  BinaryName = "${wrapper}"`,
          `  Root = "${path.join(dir, 'roots', lane.name)}"`,
          '  SystemdCgroup = false',
        ];
      });
      const cniConf = path.join(dir, 'cni', 'conf');
      fs.mkdirSync(cniConf, { recursive: true });
      fs.writeFileSync(
        path.join(cniConf, '10-tcr-e2e.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'tcr-e2e',
          plugins: [
            {
              type: 'bridge',
              bridge: net.bridge,
              isGateway: false,
              isDefaultGateway: false,
              ipMasq: false,
              hairpinMode: false,
              ipam: {
                type: 'host-local',
                ranges: [[{ subnet: `${net.prefix}.0/24`, gateway: `${net.prefix}.1` }]],
                dataDir: path.join(dir, 'cni', 'ipam'),
              },
            },
          ],
        }),
      );
      // the bridge, with the address through which the host reaches its pods
      for (const args of [
        ['link', 'add', net.bridge, 'type', 'bridge'],
        ['addr', 'add', `${net.prefix}.1/24`, 'dev', net.bridge],
        ['link', 'set', net.bridge, 'up'],
      ]) {
        const r = run('ip', args);
        if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
      }
      const address = path.join(dir, 'containerd.sock');
      const cri = [
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${PAUSE_IMAGE}"`,
        '  stream_server_address = "127.0.0.1"',
        // 0: a free port the daemon picks; the URLs Exec and Attach return carry it
        '  stream_server_port = "0"',
        '  enable_selinux = false',
        // no AppArmor profile is loaded into the host's kernel on the runtimes' behalf
        '  disable_apparmor = true',
        '  netns_mounts_under_state_dir = true',
        // the sandbox's -998 needs CAP_SYS_RESOURCE, which this host's bounding set
        // lacks: the daemon raises what it asks for to its own score instead
        '  restrict_oom_score_adj = true',
        '  enable_unprivileged_ports = false',
        '  enable_unprivileged_icmp = false',
        '[plugins."io.containerd.grpc.v1.cri".cni]',
        `  bin_dir = "${CNI_BIN}"`,
        `  conf_dir = "${cniConf}"`,
        '  max_conf_num = 1',
        '[plugins."io.containerd.grpc.v1.cri".containerd]',
        '  snapshotter = "overlayfs"',
        `  default_runtime_name = "${lanes[0].name}"`,
        ...runtimes,
      ];
      containerd = startContainerd(dir, address, containerdConfig(dir, address, cri));
      env = new CriEnv(dir, containerd, net);
      await env.importImages();
      await env.waitReady();
      return env;
    } catch (e) {
      if (env) await env.cleanup(lanes);
      else {
        await stopContainerd(containerd);
        run('ip', ['link', 'del', net.bridge]);
        unmountUnder(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      throw e;
    }
  }

  /** The pause image (a shell that reaps, as pause does, and ends on TERM) and busybox, both from the demo rootfs. */
  private async importImages(): Promise<void> {
    const ctr = (args: string[]) => run(which('ctr')!, ['--address', this.address, '-n', NAMESPACE, ...args]);
    const rootfs = path.join(DEMO, 'rootfs');
    const pause = path.join(this.dir, 'pause-rootfs');
    fs.cpSync(rootfs, pause, { recursive: true, verbatimSymlinks: true });
    fs.writeFileSync(path.join(pause, 'pause'), '#!/bin/sh\ntrap "exit 0" TERM INT\nwhile :; do sleep 3600 & wait $!; done\n', {
      mode: 0o755,
    });
    const images: [string, string, Parameters<typeof buildOciArchive>[4]][] = [
      [pause, PAUSE_IMAGE, { Entrypoint: ['/pause'], Env: ['PATH=/bin:/sbin:/usr/bin:/usr/sbin'] }],
      [rootfs, BUSYBOX_IMAGE, { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] }],
    ];
    for (const [root, name, config] of images) {
      const out = path.join(this.dir, `${path.basename(root)}.tar`);
      buildOciArchive(this.dir, root, name, out, config);
      const r = ctr(['images', 'import', out]);
      if (r.status !== 0) throw new Error(`ctr images import ${name}: ${r.stderr}`);
    }
    fs.rmSync(pause, { recursive: true, force: true });
  }

  /** Until the CRI reports the runtime and the network ready and sees both images (it learns of imports by events). */
  private async waitReady(): Promise<void> {
    const end = Date.now() + 30_000;
    let last = '';
    while (Date.now() < end) {
      try {
        const st = await this.cri.status();
        const conds = (st.status?.conditions ?? []) as Msg[];
        last = JSON.stringify(conds);
        const ready = ['RuntimeReady', 'NetworkReady'].every((t) => conds.some((c) => c.type === t && c.status));
        if (ready && (await this.cri.imageStatus(PAUSE_IMAGE)) && (await this.cri.imageStatus(BUSYBOX_IMAGE))) return;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `the CRI plugin did not become ready: ${last}\n${fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').slice(-4000)}`,
    );
  }

  /** A PodSandboxConfig as the kubelet sends it: metadata with a uid, a log directory, a cgroup parent per pod (cgroupfs driver). */
  podConfig(lane: string, name: string, opts: PodOptions = {}): Msg {
    const n = ++this.seq;
    const uid = `${lane}-${n}-${Math.random().toString(16).slice(2, 10)}`;
    const logDir = path.join(this.dir, 'pods', uid);
    fs.mkdirSync(logDir, { recursive: true });
    return {
      metadata: { name: `${name}-${n}`, uid, namespace: 'e2e', attempt: 0 },
      hostname: opts.hostname ?? '',
      log_directory: logDir,
      dns_config: opts.dns,
      labels: { lane, 'tcr-e2e': 'yes' },
      linux: {
        cgroup_parent: `/${this.cgroupRoot}/${lane}/pod${uid}`,
        // the kubelet's default: a PID namespace per container (the enum's zero is POD, so it is sent)
        security_context: { ...opts.security, namespace_options: { ...DEFAULT_NAMESPACES, ...opts.security?.namespace_options } },
        sysctls: opts.sysctls ?? {},
      },
    };
  }

  async runPod(lane: string, name: string, opts: PodOptions = {}): Promise<Pod> {
    const config = this.podConfig(lane, name, opts);
    const id = await this.cri.runPodSandbox(config, lane);
    return { id, config, lane, cgroupParent: config.linux.cgroup_parent as string };
  }

  /** A ContainerConfig as the kubelet sends it (command, log path relative to the pod's log directory). */
  containerConfig(name: string, command: string[], opts: ContainerOptions = {}): Msg {
    return {
      metadata: { name, attempt: 0 },
      image: { image: opts.image ?? BUSYBOX_IMAGE },
      command,
      envs: Object.entries(opts.env ?? {}).map(([key, value]) => ({ key, value })),
      mounts: opts.mounts ?? [],
      log_path: `${name}/0.log`,
      stdin: opts.stdin ?? false,
      tty: opts.tty ?? false,
      labels: { 'tcr-e2e': 'yes' },
      linux: { resources: opts.resources ?? {}, security_context: opts.security ?? {} },
    };
  }

  /** As the kubelet does, the container's namespace options are the pod's unless `opts.security` gives its own. */
  async createContainer(pod: Pod, name: string, command: string[], opts: ContainerOptions = {}): Promise<string> {
    const namespaces = opts.security?.namespace_options ?? pod.config.linux.security_context.namespace_options;
    const config = this.containerConfig(name, command, { ...opts, security: { ...opts.security, namespace_options: namespaces } });
    return this.cri.createContainer(pod.id, config, pod.config);
  }

  /** Create + start, then waits until the CRI reports it running; returns its id and its init's pid. */
  async startContainer(pod: Pod, name: string, command: string[], opts: ContainerOptions = {}): Promise<{ id: string; pid: number }> {
    const id = await this.createContainer(pod, name, command, opts);
    await this.cri.startContainer(id);
    const st = await this.waitState(id, 'CONTAINER_RUNNING', 10_000, true);
    if (st !== 'CONTAINER_RUNNING') throw new Error(`container ${name} is ${st}, not running`);
    return { id, pid: (await this.cri.containerInfo(id)).pid };
  }

  /** Polls ContainerStatus until the state is `want` (or any state past it when `orLater`); returns the last state. */
  async waitState(id: string, want: string, ms = 15_000, orLater = false): Promise<string> {
    const end = Date.now() + ms;
    let state = '';
    while (Date.now() < end) {
      state = (await this.cri.containerStatus(id)).state;
      if (state === want || (orLater && state === 'CONTAINER_EXITED')) return state;
      await new Promise((r) => setTimeout(r, 50));
    }
    return state;
  }

  /**
   * Runs `fn` with every cgroup hierarchy mounted, as on a kubelet's node:
   * those this host leaves unmounted (see unmountedHierarchies) are mounted
   * under the temp dir for `fn` only. The window is kept short because the
   * mount is the host's: a runtime run beside the suite would use it too.
   * `fn` must remove its pods: their cgroups in these hierarchies go before
   * the mounts do.
   */
  async withAllHierarchies(fn: () => Promise<void>): Promise<void> {
    const mounted: string[] = [];
    try {
      for (const ctrls of unmountedHierarchies()) {
        const at = path.join(this.dir, 'cgroup', ctrls);
        fs.mkdirSync(at, { recursive: true });
        const r = run('mount', ['-t', 'cgroup', '-o', ctrls, `tcr-e2e-${ctrls}`, at]);
        if (r.status !== 0) throw new Error(`mount the ${ctrls} hierarchy: ${r.stderr}`);
        mounted.push(at);
      }
      await fn();
    } finally {
      for (const at of mounted) {
        removeCgroupTree(`/${this.cgroupRoot}`, [at]);
        run('umount', [at]);
      }
    }
  }

  /** The pod's log file for a container (CRI format). */
  logFile(pod: Pod, name: string): string {
    return path.join(pod.config.log_directory as string, name, '0.log');
  }

  /** The pod sandbox's pid (its pause process), from the verbose status. */
  async sandboxPid(pod: Pod): Promise<number> {
    const st = await this.cri.podSandboxStatus(pod.id, true);
    return JSON.parse((st.info as Record<string, string>).info).pid as number;
  }

  /**
   * StopPodSandbox + RemovePodSandbox, then the pod's cgroup, as the kubelet
   * removes it (the runtimes remove only the cgroups they made below it):
   * returns the cgroup dirs the runtimes left below the pod's.
   */
  async removePod(pod: Pod): Promise<string[]> {
    await this.cri.stopPodSandbox(pod.id);
    await this.cri.removePodSandbox(pod.id);
    const left = cgroupDirsBelow(pod.cgroupParent);
    removeCgroupTree(pod.cgroupParent);
    return left;
  }

  /** What should be gone once every pod is removed: mounts, netns, processes, state, veths, runtime roots, shims. */
  leftovers(lanes: string[]): Record<string, string[]> {
    const listDir = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d).map((n) => path.join(d, n)) : []);
    const criState = path.join(this.dir, 'state', 'io.containerd.grpc.v1.cri');
    return {
      mounts: mountsUnder(this.dir),
      netns: listDir(path.join(criState, 'netns')),
      processes: pidsWithRootUnder(this.dir).map(String),
      shims: pidsMentioning(this.address)
        .filter((p) => p !== this.containerd.daemon.pid)
        .map(String),
      tasks: listDir(path.join(this.dir, 'state', 'io.containerd.runtime.v2.task', NAMESPACE)),
      sandboxes: [
        ...listDir(path.join(criState, 'sandboxes')),
        ...listDir(path.join(this.dir, 'root', 'io.containerd.grpc.v1.cri', 'sandboxes')),
      ],
      containers: [
        ...listDir(path.join(criState, 'containers')),
        ...listDir(path.join(this.dir, 'root', 'io.containerd.grpc.v1.cri', 'containers')),
      ],
      veths: this.veths(),
      roots: lanes.flatMap((l) => listDir(this.runtimeRoot(l))),
      cgroups: lanes.flatMap((l) => cgroupDirsBelow(`/${this.cgroupRoot}/${l}`).filter((d) => !/\/pod[^/]+$/.test(d))),
    };
  }

  /** Host ends of the veths on this env's bridge. */
  veths(): string[] {
    return run('ip', ['-o', 'link', 'show', 'master', this.bridge])
      .stdout.split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1].trim().split('@')[0]);
  }

  /** Everything, even after a failure: pods (and so containers), the daemon and its shims, stray runtime state, mounts, veths, the bridge, cgroups, the dir. */
  async cleanup(lanes: Lane[]): Promise<void> {
    try {
      const pods = await this.cri.listPodSandbox().catch(() => [] as Msg[]);
      for (const p of pods) {
        await this.cri.stopPodSandbox(p.id as string).catch(() => undefined);
        await this.cri.removePodSandbox(p.id as string).catch(() => undefined);
      }
    } finally {
      this.cri.close();
      await stopContainerd(this.containerd);
      for (const pid of pidsWithRootUnder(this.dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      for (const lane of lanes) {
        const root = this.runtimeRoot(lane.name);
        if (!fs.existsSync(root)) continue;
        for (const id of fs.readdirSync(root).filter((n) => !n.startsWith('.'))) run(lane.bin, ['--root', root, 'delete', '--force', id]);
      }
      waitFor(() => pidsWithRootUnder(this.dir).length === 0, 5_000);
      removeCgroupTree(`/${this.cgroupRoot}`);
      unmountUnder(this.dir);
      for (const veth of this.veths()) run('ip', ['link', 'del', veth]);
      run('ip', ['link', 'del', this.bridge]);
      // TCR_E2E_CRI_LOG=FILE keeps the daemon's log (the shims log there too) for a look after the run
      const keep = process.env.TCR_E2E_CRI_LOG;
      if (keep) fs.copyFileSync(path.join(this.dir, 'containerd.log'), keep);
      const before = new Set<string>(JSON.parse(fs.readFileSync(path.join(this.dir, 'host-paths.json'), 'utf8')) as string[]);
      fs.rmSync(this.dir, { recursive: true, force: true });
      removeNew(HOST_PATHS, before);
    }
  }
}
