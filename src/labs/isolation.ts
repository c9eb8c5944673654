// What each namespace hides: the host's view (read by the lab itself) beside
// the container's (a script in a container with all seven namespaces), and
// the kernel they still share.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { labBundle, runLabContainer } from './bundle-dir.js';
import type { Lab, LabNumber } from './lab.js';
import { table } from './svg.js';

/** The container's side: each section one namespace's view, as the host side reads the same files. */
const SCRIPT = [
  'echo "== ids"; for n in pid uts mnt net user ipc cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done',
  'echo "== pid"; echo "self $$"; echo "count $(ls /proc | grep -c "^[0-9]")"',
  'echo "== uts"; hostname',
  'echo "== mnt"; echo "count $(wc -l < /proc/self/mountinfo)"; echo "root $(awk \'$5 == "/" {print $4; exit}\' /proc/self/mountinfo)"',
  'echo "== net"; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " "; echo',
  'echo "== user"; cat /proc/self/uid_map; echo "uid $(id -u)"',
  'echo "== ipc"; echo "queues $(tail -n +2 /proc/sysvipc/msg | wc -l)"',
  'echo "== cgroup"; cat /proc/self/cgroup | head -3',
  'echo "== kernel"; uname -r',
].join('\n');

type Views = Map<string, string[]>;

function parseSections(out: string): Views {
  const views: Views = new Map();
  let current: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^== (\w+)$/.exec(line);
    if (m) views.set(m[1], (current = []));
    else if (line.trim()) current.push(line.trim().replace(/\s+/g, ' '));
  }
  return views;
}

/** The same views, read by the lab in the host's namespaces. */
function hostViews(): Views {
  const read = (f: string) => fs.readFileSync(f, 'utf8');
  const ns = ['pid', 'uts', 'mnt', 'net', 'user', 'ipc', 'cgroup'].map((n) => `${n} ${fs.readlinkSync(`/proc/self/ns/${n}`)}`);
  const mountinfo = read('/proc/self/mountinfo').trim().split('\n');
  const netDev = read('/proc/net/dev').trim().split('\n').slice(2);
  return new Map([
    ['ids', ns],
    ['pid', [`self ${process.pid}`, `count ${fs.readdirSync('/proc').filter((f) => /^\d+$/.test(f)).length}`]],
    ['uts', [os.hostname()]],
    ['mnt', [`count ${mountinfo.length}`, `root ${mountinfo.find((l) => l.split(' ')[4] === '/')?.split(' ')[3] ?? '?'}`]],
    ['net', [netDev.map((l) => l.split(':')[0].trim()).join(' ')]],
    [
      'user',
      [
        ...read('/proc/self/uid_map')
          .trim()
          .split('\n')
          .map((l) => l.trim().replace(/\s+/g, ' ')),
        `uid ${process.getuid?.() ?? '?'}`,
      ],
    ],
    ['ipc', [`queues ${read('/proc/sysvipc/msg').trim().split('\n').length - 1}`]],
    ['cgroup', read('/proc/self/cgroup').trim().split('\n').slice(0, 3)],
    ['kernel', [os.release()]],
  ]);
}

const value = (lines: string[] | undefined, key: string): string =>
  lines?.find((l) => l.startsWith(`${key} `))?.slice(key.length + 1) ?? '?';
const nsId = (views: Views, ns: string): string => value(views.get('ids'), ns);

const ROWS: [string, string, string][] = [
  ['pid', 'pid', 'processes: the container counts only its own, and its shell is pid 1'],
  ['uts', 'uts', 'host name'],
  ['mnt', 'mnt', "mounts: its own table, '/' is the rootfs"],
  ['net', 'net', 'network interfaces'],
  ['user', 'user', 'users: its uid 0 is another uid on the host (uid_map: inside, outside, count)'],
  ['ipc', 'ipc', 'System V IPC: a message queue the lab made on the host'],
  ['cgroup', 'cgroup', "cgroups: its own cgroup looks like the root '/'"],
];

export const isolation: Lab = {
  name: 'isolation',
  title: 'Isolation: what each namespace hides, and the kernel that stays shared',
  async run(ctx) {
    const bundle = labBundle(ctx, 'bundle', ['sh', '-c', SCRIPT], (spec) => {
      spec.hostname = 'lab-container';
      spec.linux = {
        ...spec.linux,
        namespaces: ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup'].map((type) => ({ type }) as never),
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      };
    });
    // a queue on the host, so the ipc row has something to hide; removed whatever happens
    const queue = spawnSync('ipcmk', ['-Q'], { encoding: 'utf8' });
    const queueId = /(\d+)\s*$/.exec(queue.stdout ?? '')?.[1];
    let output: string;
    let host: Views;
    try {
      ctx.progress('running a container with all seven namespaces');
      host = hostViews();
      output = await runLabContainer(ctx, 'isolation', bundle);
    } finally {
      if (queueId) spawnSync('ipcrm', ['-q', queueId]);
    }
    const inside = parseSections(output);
    const show = (v: Views, key: string): string => {
      const lines = v.get(key) ?? ['?'];
      if (key === 'pid') return `pid of the shell: ${value(lines, 'self')}, processes seen: ${value(lines, 'count')}`;
      if (key === 'mnt') return `${value(lines, 'count')} mounts, / is ${value(lines, 'root')}`;
      return lines.join('\n');
    };
    const rows = ROWS.map(([key, ns, what]) => {
      const differs = nsId(host, ns) !== nsId(inside, ns);
      return {
        cells: [`${ns}: ${what}`, `${nsId(host, ns)}\n${show(host, key)}`, `${nsId(inside, ns)}\n${show(inside, key)}`],
        highlight: differs ? ('differs' as const) : ('same' as const),
      };
    });
    const hostKernel = host.get('kernel')?.[0] ?? '?';
    const kernel = inside.get('kernel')?.[0] ?? '?';
    rows.push({
      cells: ['kernel (uname -r): shared, there is one', hostKernel, kernel],
      highlight: hostKernel === kernel ? 'same' : 'differs',
    });
    const separate = ROWS.filter(([, ns]) => nsId(host, ns) !== nsId(inside, ns)).length;
    const numbers: LabNumber[] = [
      { name: 'namespaces of its own', value: separate },
      { name: "container's shell pid", value: Number(value(inside.get('pid'), 'self')) },
      { name: 'processes the container sees', value: Number(value(inside.get('pid'), 'count')) },
      { name: 'processes the host sees', value: Number(value(host.get('pid'), 'count')) },
      { name: 'mounts in the container', value: Number(value(inside.get('mnt'), 'count')) },
      { name: 'mounts on the host', value: Number(value(host.get('mnt'), 'count')) },
      { name: 'interfaces in the container', value: (inside.get('net')?.[0] ?? '').split(' ').filter(Boolean).length },
      { name: 'interfaces on the host', value: (host.get('net')?.[0] ?? '').split(' ').filter(Boolean).length },
      { name: 'message queues in the container', value: Number(value(inside.get('ipc'), 'queues')) },
      { name: 'message queues on the host', value: Number(value(host.get('ipc'), 'queues')) },
      { name: 'kernel shared', value: hostKernel === kernel ? 'yes' : 'no' },
    ];
    const n = (name: string) => numbers.find((x) => x.name === name)?.value;
    const text = [
      `A container with all seven namespaces ran a shell script that reads what the host's own files say: ${separate} of 7 namespaces differ`,
      `from the host's (each /proc/self/ns/* link names another inode). Inside, the shell is pid ${n("container's shell pid")} and sees ${n('processes the container sees')} processes`,
      `(its shell and the commands the script runs; the host: ${n('processes the host sees')}); ${n('mounts in the container')} mounts against ${n('mounts on the host')}; ${n('interfaces in the container')} network interface (${inside.get('net')?.[0] ?? '?'})`,
      `against ${n('interfaces on the host')}; ${n('message queues in the container')} System V queues against the host's ${n('message queues on the host')};`,
      `its root is uid 0 inside and uid ${(inside.get('user')?.[0] ?? '').split(/\s+/)[1] ?? '?'} outside (uid_map "${inside.get('user')?.[0] ?? '?'}"); its host name is ${inside.get('uts')?.[0] ?? '?'}.`,
      `What no namespace hides: the kernel. uname -r says ${kernel} inside and ${hostKernel} on the host: one kernel runs both,`,
      "which is why a container starts in milliseconds and why a kernel bug is everyone's.",
    ].join('\n');
    const svg = table({
      title: 'What each namespace hides: the host beside the container',
      columns: ['namespace: what it isolates', "host's view (ns inode, then what it shows)", "container's view"],
      rows,
      widths: [300, 330, 330],
      note: 'Green: the container has a namespace of its own and sees something else. Amber: shared with the host.',
    });
    return { text, numbers, figures: [{ name: 'namespaces', title: 'The host beside the container, one row per namespace', svg }] };
  },
};
