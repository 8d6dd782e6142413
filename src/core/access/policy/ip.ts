// IP addresses and CIDR blocks for IpAddress/NotIpAddress (aws:SourceIp). Written out rather
// than borrowed from node:net so that the rules are visible here: an IPv4 address written as an
// IPv4-mapped IPv6 address (what Node reports for IPv4 clients on a dual-stack socket) counts
// as IPv4, and IPv4 blocks never match IPv6 callers nor the other way round.

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface CidrBlock extends IpAddress {
  readonly prefix: number;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes('.')) {
        // An embedded IPv4 address fills the last two groups.
        const v4 = parseIpv4(piece);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
      out.push(parseInt(piece, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    all = head;
  }
  if (all.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** An address; a zone id ("%eth0") is ignored, an IPv4-mapped IPv6 address becomes IPv4. */
export function parseIpAddress(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text.replace(/%[^%]*$/, ''));
  if (!v6) return undefined;
  if (isV4Mapped(v6)) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

/** "10.0.0.0/8", "2001:db8::/32", or a bare address (a block of one). */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes('%')) return undefined;
  const v4 = parseIpv4(addressText);
  const v6 = v4 ? undefined : parseIpv6(addressText);
  if (!v4 && !v6) return undefined;
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return undefined;
    prefix = Number(p);
  }
  if (v4) return { family: 4, bytes: v4, prefix };
  // An IPv4-mapped block is an IPv4 block.
  if (isV4Mapped(v6!) && prefix >= 96) return { family: 4, bytes: v6!.slice(12), prefix: prefix - 96 };
  return { family: 6, bytes: v6!, prefix };
}

export function cidrContains(block: CidrBlock, address: IpAddress): boolean {
  if (block.family !== address.family) return false;
  let bits = block.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((block.bytes[i]! & mask) !== (address.bytes[i]! & mask)) return false;
  }
  return true;
}
