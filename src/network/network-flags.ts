// `tcr network create`'s --subnet and --gateway, docker's way: each may be
// given twice, once per family; the IPv6 ones only with --ipv6. Sorted here
// into the IPv4 and IPv6 halves createNetwork checks (networks.ts).
import { TcrError } from '../errors.js';
import { isIPv6 } from './ipv6.js';
import type { CreateOptions } from './networks.js';

function onePerFamily(flag: string, values: string[]): { v4?: string; v6?: string } {
  const v4 = values.filter((v) => !isIPv6(v));
  const v6 = values.filter(isIPv6);
  for (const [family, list] of [
    ['IPv4', v4],
    ['IPv6', v6],
  ] as const)
    if (list.length > 1)
      throw new TcrError(`${flag}: one ${family} value at most (given ${list.join(', ')}); a network has one subnet per family`);
  return { v4: v4[0], v6: v6[0] };
}

export function ipamOptions(
  subnets: string[],
  gateways: string[],
  ipv6: boolean,
): Pick<CreateOptions, 'subnet' | 'gateway' | 'ipv6' | 'subnet6' | 'gateway6'> {
  const s = onePerFamily('--subnet', subnets);
  const g = onePerFamily('--gateway', gateways);
  if (!ipv6 && s.v6) throw new TcrError(`--subnet ${s.v6}: an IPv6 subnet needs --ipv6`);
  if (!ipv6 && g.v6) throw new TcrError(`--gateway ${g.v6}: an IPv6 gateway needs --ipv6`);
  if (g.v6 && !s.v6) throw new TcrError(`--gateway ${g.v6}: give the IPv6 --subnet it is in`);
  return { subnet: s.v4, gateway: g.v4, ...(ipv6 && { ipv6, subnet6: s.v6, gateway6: g.v6 }) };
}
