// `tcr version` and `tcr info`: what docker's commands of those names tell a
// bug report or a script (versions, the kernel, the cgroup setup, the store,
// the containers), in the same "Key: value" layout, or as JSON. They need no
// container and change nothing.
import { Command } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import { Runtime } from '../container/runtime.js';
import { cgroupLayout } from '../cgroups/detect.js';
import { DEFAULT_DEF } from '../network/networks.js';
import { OCI_VERSION } from '../spec/defaults.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { applyTemplate } from './go-template.js';
import { VERSION } from './version.js';

/** Go's names for the architecture, as docker prints OS/Arch. */
const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

function osName(): string {
  try {
    const line = fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME=(.*)$/m)?.[1] ?? '';
    return line.replace(/^"(.*)"$/, '$1') || 'Linux';
  } catch {
    return 'Linux';
  }
}

/** Indented "Key: value" lines under their section titles, values aligned within a section. */
export function keyValueText(sections: Record<string, Record<string, string | number>>): string {
  return Object.entries(sections)
    .map(([title, rows]) => {
      const width = Math.max(...Object.keys(rows).map((k) => k.length)) + 2;
      return `${title}:\n${Object.entries(rows)
        .map(([k, v]) => ` ${`${k}:`.padEnd(width)}${v}\n`)
        .join('')}`;
    })
    .join('');
}

/** 2 decimals of GiB, as docker's Total Memory reads. */
export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)}GiB`;
}

export function versionInfo() {
  return {
    Client: { Version: VERSION, NodeVersion: process.version, Os: 'linux', Arch: GOARCH[process.arch] ?? process.arch },
    Runtime: { Version: VERSION, OciVersion: OCI_VERSION, KernelVersion: os.release() },
  };
}

/** The cgroup version as detected: 2 (unified), 1, or 1 on a hybrid host whose controllers are v1's. */
function cgroupVersion(): string {
  const l = cgroupLayout();
  return l.unified ? '2' : l.v1Hierarchies.length ? '1' : 'none';
}

async function systemInfo(g: GlobalOptions) {
  const rt = new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup });
  const { ImageStore } = await import('../image/store.js');
  const store = new ImageStore({ root: g.store });
  const states = rt.list().map((s) => s.status);
  const count = (...of: string[]) => states.filter((s) => of.includes(s)).length;
  return {
    Containers: states.length,
    ContainersRunning: count('running'),
    ContainersPaused: count('paused'),
    // docker counts the created-but-never-started with the stopped ones
    ContainersStopped: count('stopped', 'created', 'creating'),
    Images: store.list().length,
    StoreRoot: store.root,
    StateRoot: rt.store.root,
    StorageDriver: 'overlay',
    CgroupDriver: g.systemdCgroup ? 'systemd' : 'cgroupfs',
    CgroupVersion: cgroupVersion(),
    DefaultNetwork: `${DEFAULT_DEF.name} (${DEFAULT_DEF.bridge}, ${DEFAULT_DEF.subnet})`,
    KernelVersion: os.release(),
    OperatingSystem: osName(),
    OSType: 'linux',
    Architecture: os.machine(),
    NCPU: os.cpus().length,
    MemTotal: os.totalmem(),
    Name: os.hostname(),
    ServerVersion: VERSION,
  };
}

function print(format: string | undefined, value: unknown, text: () => string): void {
  if (format === 'json') out(JSON.stringify(value) + '\n');
  else if (format !== undefined) out(applyTemplate(format, value) + '\n');
  else out(text());
}

export function registerInfoCommands(program: Command): void {
  program
    .command('version')
    .description("tcr's, node's, the kernel's and the OCI runtime spec's versions")
    .option('-f, --format <format>', "json, or a Go template such as '{{.Runtime.OciVersion}}'")
    .action((o: { format?: string }) => {
      const v = versionInfo();
      print(o.format, v, () =>
        keyValueText({
          Client: { Version: v.Client.Version, 'Node version': v.Client.NodeVersion, 'OS/Arch': `${v.Client.Os}/${v.Client.Arch}` },
          Runtime: { Version: v.Runtime.Version, 'OCI runtime spec': v.Runtime.OciVersion, Kernel: v.Runtime.KernelVersion },
        }),
      );
    });

  program
    .command('info')
    .description('the containers, images, store and state roots, cgroups, kernel and host, as docker info')
    .option('-f, --format <format>', "json, or a Go template such as '{{.CgroupVersion}}'")
    .action(async (o: { format?: string }, cmd: Command) => {
      const i = await systemInfo(cmd.optsWithGlobals<GlobalOptions>());
      print(o.format, i, () => {
        const text = keyValueText({
          Runtime: {
            Containers: i.Containers,
            ' Running': i.ContainersRunning,
            ' Paused': i.ContainersPaused,
            ' Stopped': i.ContainersStopped,
            Images: i.Images,
            Version: i.ServerVersion,
            'Storage Driver': i.StorageDriver,
            'Cgroup Driver': i.CgroupDriver,
            'Cgroup Version': i.CgroupVersion,
            'Default Network': i.DefaultNetwork,
            'Kernel Version': i.KernelVersion,
            'Operating System': i.OperatingSystem,
            OSType: i.OSType,
            Architecture: i.Architecture,
            CPUs: i.NCPU,
            'Total Memory': gib(i.MemTotal),
            Name: i.Name,
            'Store Root': i.StoreRoot,
            'State Root': i.StateRoot,
          },
        });
        return text;
      });
    });
}
