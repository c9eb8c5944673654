// `tcr network create|ls|rm|inspect|prune|connect|disconnect`: docker's
// network commands over the networks of src/network/networks.ts (kept in the
// image store).
import type { Command } from 'commander';
import { Runtime } from '../container/runtime.js';
import { TcrError } from '../errors.js';
import { dockerExit } from './cli-errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { table } from './table.js';

async function context(cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const { ImageStore } = await import('../image/store.js');
  const net = await import('../network/networks.js');
  const { membersOf } = await import('../network/hosts.js');
  const rt = new Runtime({ root: g.root });
  return { storeRoot: new ImageStore({ root: g.store }).root, net, state: rt.store, members: (name: string) => membersOf(rt.store, name) };
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Removes a network no container of this state root is attached to: its definition, bridge, lease directory and isolation rules. */
async function removeUnused(c: Awaited<ReturnType<typeof context>>, name: string): Promise<void> {
  const def = c.net.readNetwork(c.storeRoot, name);
  const attached = c.members(name);
  if (attached.length)
    throw new TcrError(`network ${name} has containers attached: ${attached.map((m) => m.id).join(', ')} (tcr rm them first)`);
  const { removeBridge } = await import('../network/bridge-device.js');
  const { removeIsolation } = await import('../network/bridge-rules.js');
  await removeBridge(def);
  c.net.removeNetwork(c.storeRoot, name);
  await removeIsolation(def.bridge, def.subnet, def.ipv6?.subnet);
  // entries a crashed or killed removal left: the host-wide aardvark would still claim the gateway, which the next
  // network on this subnet (tcr's or podman's, both draw from 10.89.0.0/16) then needs for its own daemon
  const { DNS_DIR, updateDns } = await import('../network/dns.js');
  const { existsSync } = await import('node:fs');
  if (existsSync(`${DNS_DIR}/${def.bridge}`)) await updateDns(def.bridge, [def.gateway], []);
}

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('manage networks: create, ls, rm, inspect, prune, connect, disconnect');

  network
    .command('create')
    .description('create a bridge network; its containers reach each other by name and alias (/etc/hosts and DNS)')
    .argument('<name>')
    .option('--subnet <cidr>', 'the IPv4 subnet (default: a free /24 of 10.89.0.0/16); with --ipv6 again for the IPv6 one', collect, [])
    .option('--gateway <ip>', "the bridge's address (default: the subnet's first); one per family", collect, [])
    .option('--ipv6', 'IPv6 too: a second subnet (default: a free ULA /64 of fd00::/8)')
    .option('--internal', 'no route out and no NAT: only the network’s own containers')
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('-d, --driver <driver>', 'bridge, the only driver', 'bridge')
    .action(
      dockerExit(
        async (
          name: string,
          o: { subnet: string[]; gateway: string[]; ipv6?: boolean; driver: string; internal?: boolean; label: string[] },
          cmd: Command,
        ) => {
          if (o.driver !== 'bridge') throw new TcrError(`--driver ${o.driver}: only bridge networks are supported`);
          const { parseLabels } = await import('../network/network-list.js');
          const labels = parseLabels(o.label);
          const { ipamOptions } = await import('../network/network-flags.js');
          const ipam = ipamOptions(o.subnet, o.gateway, !!o.ipv6);
          const { storeRoot, net } = await context(cmd);
          out(`${net.createNetwork(storeRoot, name, { ...ipam, internal: o.internal, labels }).id}\n`);
        },
      ),
    );

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'print only the names')
    .option('-f, --filter <key=value>', 'name=, id=, driver=, label=KEY[=VALUE], type=builtin|custom (repeatable)', collect, [])
    .option(
      '--format <format>',
      'a Go template over .ID .Name .Driver .Scope .IPv6 .Internal .Labels .CreatedAt, or json, or table TEMPLATE',
    )
    .option('--no-trunc', 'full network ids')
    .action(
      dockerExit(async (o: { quiet?: boolean; filter: string[]; format?: string; trunc: boolean }, cmd: Command) => {
        const list = await import('../network/network-list.js');
        const filters = list.parseFilters(o.filter);
        const { storeRoot, net } = await context(cmd);
        const defs = net.listNetworks(storeRoot);
        const rows = list.filterRows(list.rowsOf(defs), filters);
        if (!o.trunc) for (const r of rows) r.ID = defs.find((d) => d.name === r.Name)?.id ?? r.ID;
        if (o.quiet) return out(rows.map((r) => `${r.Name}\n`).join(''));
        const pub = (r: (typeof rows)[number]) => {
          const { builtin: _b, labels: _l, ...rest } = r;
          return rest;
        };
        if (o.format === 'json') return out(rows.map((r) => `${JSON.stringify(pub(r))}\n`).join(''));
        if (o.format) {
          const { applyTemplate } = await import('./go-template.js');
          const t = o.format.replace(/^table\s+/, '');
          const lines = rows.map((r) => applyTemplate(t, pub(r)).replace(/\\t/g, '\t'));
          return out(lines.map((l) => `${l}\n`).join(''));
        }
        const table_ = [['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'BRIDGE']];
        for (const r of rows) {
          const d = defs.find((x) => x.name === r.Name);
          table_.push([r.ID === '-' ? '-' : r.ID.slice(0, o.trunc ? 12 : 64), r.Name, r.Driver, d?.subnet ?? '-', d?.bridge ?? '-']);
        }
        out(table(table_));
      }),
    );

  network
    .command('inspect')
    .description('print networks as JSON, with their containers')
    .argument('<name...>')
    .action(
      dockerExit(async (names: string[], _o: unknown, cmd: Command) => {
        const { storeRoot, net, members } = await context(cmd);
        const list = names.map((name) => {
          const def = net.readNetwork(storeRoot, name);
          const containers = Object.fromEntries(
            members(name).map((m) => [m.id, { IPv4Address: m.address, ...(m.address6 && { IPv6Address: m.address6 }), Names: m.names }]),
          );
          return {
            Name: def.name,
            Id: def.id,
            Created: def.created,
            Driver: def.driver,
            Bridge: def.bridge,
            Subnet: def.subnet,
            Gateway: def.gateway,
            EnableIPv6: !!def.ipv6,
            // docker's shape: a config per family
            IPAM: {
              Driver: 'default',
              Config: [
                { Subnet: def.subnet, Gateway: def.gateway },
                ...(def.ipv6 ? [{ Subnet: def.ipv6.subnet, Gateway: def.ipv6.gateway }] : []),
              ],
            },
            Internal: !!def.internal,
            // docker's embedded DNS: on user networks only
            DNSEnabled: def.shareNames,
            Labels: def.labels ?? {},
            Containers: containers,
          };
        });
        out(JSON.stringify(list, null, 2) + '\n');
      }),
    );

  network
    .command('rm')
    .alias('remove')
    .description('remove networks that no container is attached to')
    .argument('<name...>')
    .action(
      dockerExit(async (names: string[], _o: unknown, cmd: Command) => {
        const c = await context(cmd);
        for (const name of names) {
          await removeUnused(c, name);
          out(`${name}\n`);
        }
      }),
    );

  network
    .command('prune')
    .description('remove every user network no container is attached to')
    .option('-f, --force', 'do not ask (tcr never asks: accepted for docker scripts)')
    .option('--filter <key=value>', 'label=KEY[=VALUE] (repeatable)', collect, [])
    .action(
      dockerExit(async (o: { filter: string[] }, cmd: Command) => {
        const list = await import('../network/network-list.js');
        const filters = list.parseFilters(o.filter);
        const c = await context(cmd);
        const rows = list.filterRows(list.rowsOf(c.net.listNetworks(c.storeRoot)), filters).filter((r) => !r.builtin);
        const removed: string[] = [];
        for (const r of rows) {
          if (c.members(r.Name).length) continue;
          await removeUnused(c, r.Name);
          removed.push(r.Name);
        }
        if (removed.length) out(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`);
      }),
    );

  network
    .command('connect')
    .description('connect a running container to a network: a further interface, its names there')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <name>', 'another name of the container on that network (repeatable)', collect, [])
    .action(
      dockerExit(async (name: string, id: string, o: { alias: string[] }, cmd: Command) => {
        const c = await context(cmd);
        const { connectContainer } = await import('../network/connect.js');
        await connectContainer(c.state, c.storeRoot, name, id, o.alias);
      }),
    );

  network
    .command('disconnect')
    .description('disconnect a running container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'accepted for docker scripts')
    .action(
      dockerExit(async (name: string, id: string, _o: unknown, cmd: Command) => {
        const c = await context(cmd);
        const { disconnectContainer } = await import('../network/connect.js');
        await disconnectContainer(c.state, name, id);
      }),
    );
}
