// Where a compose service becomes `tcr run -d` arguments: one container per
// replica, named and labelled as docker compose names and labels them, so
// `up`, `down` and `ps` find exactly the project's containers by label.
import type { PortSpec, Project, Service, VolumeMount } from './model.js';

export const LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

/** docker compose v2's container name: project-service-N. */
export function containerName(project: Project, s: Service, n: number): string {
  return s.containerName ?? `${project.name}-${s.name}-${n}`;
}

export function portFlag(p: PortSpec): string {
  const host = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
  const left = host ? `${host}:${p.published}:` : p.published ? `${p.published}:` : '';
  return `${left}${p.target}/${p.protocol}`;
}

function mountFlag(project: Project, v: VolumeMount): string[] {
  if (v.type === 'tmpfs') return ['--mount', `type=tmpfs,destination=${v.target}${v.tmpfsSize ? `,tmpfs-size=${v.tmpfsSize}` : ''}`];
  if (v.type === 'bind') return ['-v', `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`];
  const opts = [v.readOnly && 'ro', v.noCopy && 'nocopy'].filter(Boolean).join(',');
  const source = v.source === undefined ? '' : `${project.volumes[v.source].name}:`;
  return ['-v', `${source}${v.target}${opts ? `:${opts}` : ''}`];
}

/** The first network a container joins at `run`; the others are `network connect`'s (networksAfterRun). */
export function primaryNetwork(project: Project, s: Service): string | undefined {
  const first = Object.keys(s.networks)[0];
  return first === undefined ? undefined : project.networks[first].name;
}

export function networksAfterRun(project: Project, s: Service): { network: string; aliases: string[] }[] {
  return Object.entries(s.networks)
    .slice(1)
    .map(([key, n]) => ({ network: project.networks[key].name, aliases: [s.name, ...n.aliases] }));
}

/** `network_mode` as `--network`: service:X is the first running replica of X. */
function networkMode(project: Project, mode: string): string {
  if (!mode.startsWith('service:')) return mode;
  const other = project.services.find((x) => x.name === mode.slice(8))!;
  return `container:${containerName(project, other, 1)}`;
}

function shellQuote(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** The arguments after `tcr run` for replica `n` (1-based) of service `s`; the image and command come last. */
export function runArgs(project: Project, s: Service, n: number): string[] {
  const a: string[] = ['-d', '--name', containerName(project, s, n)];
  const labels: Record<string, string> = {
    ...s.labels,
    [LABEL.project]: project.name,
    [LABEL.service]: s.name,
    [LABEL.number]: String(n),
    [LABEL.oneoff]: 'False',
    [LABEL.workingDir]: project.workingDir,
    [LABEL.configFiles]: project.files.join(','),
  };
  for (const [k, v] of Object.entries(labels)) a.push('--label', `${k}=${v}`);
  if (s.networkMode) a.push('--network', networkMode(project, s.networkMode));
  else {
    const first = Object.entries(s.networks)[0];
    if (first) {
      a.push('--network', project.networks[first[0]].name, '--network-alias', s.name);
      for (const alias of first[1].aliases) a.push('--network-alias', alias);
    }
  }
  for (const [k, v] of Object.entries(s.environment)) a.push('-e', `${k}=${v}`);
  for (const p of s.ports) a.push('-p', portFlag(p));
  for (const v of s.volumes) a.push(...mountFlag(project, v));
  for (const t of s.tmpfs) a.push('--tmpfs', t);
  for (const c of s.capAdd) a.push('--cap-add', c);
  for (const c of s.capDrop) a.push('--cap-drop', c);
  for (const o of s.securityOpt) a.push('--security-opt', o);
  for (const d of s.devices) a.push('--device', d);
  for (const h of s.extraHosts) a.push('--add-host', h);
  for (const d of s.dns) a.push('--dns', d);
  for (const [k, v] of Object.entries(s.sysctls)) a.push('--sysctl', `${k}=${v}`);
  for (const [k, l] of Object.entries(s.ulimits)) a.push('--ulimit', `${k}=${l.soft}:${l.hard}`);
  const opt = (flag: string, v: string | number | undefined) => {
    if (v !== undefined) a.push(flag, String(v));
  };
  opt('-m', s.memLimit);
  opt('--memory-swap', s.memswapLimit);
  opt('--memory-reservation', s.memReservation);
  opt('--cpus', s.cpus);
  opt('--pids-limit', s.pidsLimit);
  opt('-u', s.user);
  opt('-w', s.workingDir);
  // tcr's container id is its name, so docker's default host name (the id's first 12 characters) would cut it: the whole name
  opt('-h', s.hostname ?? (s.networkMode ? undefined : containerName(project, s, n)));
  opt('--stop-signal', s.stopSignal);
  opt('--stop-timeout', s.stopGracePeriod === undefined ? undefined : Math.ceil(s.stopGracePeriod));
  opt('--shm-size', s.shmSize);
  opt('--restart', s.restart);
  opt('--platform', s.platform);
  opt('--pull', s.pullPolicy);
  if (s.readOnly) a.push('--read-only');
  if (s.init) a.push('--init');
  if (s.privileged) a.push('--privileged');
  if (s.tty) a.push('-t');
  if (s.stdinOpen) a.push('-i');
  const h = s.healthcheck;
  if (h?.disable) a.push('--no-healthcheck');
  else if (h) {
    // --health-cmd is run by a shell (CMD-SHELL); a CMD list gets there quoted word by word
    if (h.test) a.push('--health-cmd', h.test[0] === 'CMD-SHELL' ? h.test[1] : h.test.slice(1).map(shellQuote).join(' '));
    opt('--health-interval', h.interval);
    opt('--health-timeout', h.timeout);
    opt('--health-start-period', h.startPeriod);
    opt('--health-retries', h.retries);
  }
  if (s.entrypoint !== undefined) {
    // --entrypoint takes one word; the rest of a list entrypoint goes before the command, as docker's run does with it
    a.push('--entrypoint', s.entrypoint[0] ?? '');
    a.push(s.image, ...s.entrypoint.slice(1), ...(s.command ?? []));
  } else a.push(s.image, ...(s.command ?? []));
  return a;
}
