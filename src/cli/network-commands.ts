// `tcr network create|ls|rm|inspect`: docker's network commands over the
// networks of src/network/networks.ts (kept in the image store).
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
  return { storeRoot: new ImageStore({ root: g.store }).root, net, members: (name: string) => membersOf(rt.store, name) };
}

export function registerNetworkCommands(program: Command): void {
  const network = program.command('network').description('manage networks: create, ls, rm, inspect');

  network
    .command('create')
    .description('create a bridge network; its containers reach each other by name and alias')
    .argument('<name>')
    .option('--subnet <cidr>', 'the IPv4 subnet (default: a free /24 of 10.89.0.0/16)')
    .option('--gateway <ip>', "the bridge's address (default: the subnet's first)")
    .option('-d, --driver <driver>', 'bridge, the only driver', 'bridge')
    .action(
      dockerExit(async (name: string, o: { subnet?: string; gateway?: string; driver: string }, cmd: Command) => {
        if (o.driver !== 'bridge') throw new TcrError(`--driver ${o.driver}: only bridge networks are supported`);
        const { storeRoot, net } = await context(cmd);
        out(`${net.createNetwork(storeRoot, name, o).id}\n`);
      }),
    );

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'print only the names')
    .action(
      dockerExit(async (o: { quiet?: boolean }, cmd: Command) => {
        const { storeRoot, net } = await context(cmd);
        const nets = net.listNetworks(storeRoot);
        if (o.quiet) return out([...nets.map((n) => n.name), ...net.SPECIAL].map((n) => `${n}\n`).join(''));
        const rows = [['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'BRIDGE']];
        for (const n of nets) rows.push([n.id.slice(0, 12), n.name, n.driver, n.subnet, n.bridge]);
        for (const n of net.SPECIAL) rows.push(['-', n, n === 'host' ? 'host' : 'null', '-', '-']);
        out(table(rows));
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
          const containers = Object.fromEntries(members(name).map((m) => [m.id, { IPv4Address: m.address, Names: m.names }]));
          return {
            Name: def.name,
            Id: def.id,
            Created: def.created,
            Driver: def.driver,
            Bridge: def.bridge,
            Subnet: def.subnet,
            Gateway: def.gateway,
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
        const { storeRoot, net, members } = await context(cmd);
        const { removeBridge } = await import('../network/bridge-device.js');
        for (const name of names) {
          const def = net.readNetwork(storeRoot, name);
          const attached = members(name);
          if (attached.length)
            throw new TcrError(`network ${name} has containers attached: ${attached.map((m) => m.id).join(', ')} (tcr rm them first)`);
          net.removeNetwork(storeRoot, name);
          await removeBridge(def);
          out(`${name}\n`);
        }
      }),
    );
}
