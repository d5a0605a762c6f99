// A small reader for what tcpdump writes with -w (classic pcap, not pcapng), enough for the
// wire test (wire.e2e.test.ts): packet records, Ethernet (or Linux cooked v1/v2) -> IPv4 ->
// TCP, each direction of each TCP connection reassembled into its byte stream by sequence
// number, and a walk over a stream's TLS record headers.
//
// Format references: the pcap file format (global header 24 bytes: magic, version, thiszone,
// sigfigs, snaplen, linktype; record header 16 bytes: ts_sec, ts_usec, incl_len, orig_len),
// link types 1 (EN10MB), 113 (LINUX_SLL), 276 (LINUX_SLL2); RFC 791 (IPv4), RFC 9293 (TCP),
// RFC 8446 §5.1 (TLS record header: type, legacy_record_version, length).

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export interface PcapPacket {
  /** Seconds since the epoch (fractional). */
  time: number;
  /** The captured bytes (incl_len of them). */
  data: Buffer;
  /** The packet's length on the wire (orig_len); larger than data.length when snaplen cut it. */
  origLen: number;
}

export interface Pcap {
  linkType: number;
  snaplen: number;
  packets: PcapPacket[];
}

/** Parses a classic pcap file (either byte order, micro- or nanosecond timestamps). */
export function readPcap(file: Buffer): Pcap {
  if (file.length < 24) throw new Error(`pcap: ${file.length} bytes is shorter than the global header`);
  const magicLE = file.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) [le, nano] = [true, magicLE === 0xa1b23c4d];
  else if (file.readUInt32BE(0) === 0xa1b2c3d4 || file.readUInt32BE(0) === 0xa1b23c4d)
    [le, nano] = [false, file.readUInt32BE(0) === 0xa1b23c4d];
  else throw new Error(`pcap: bad magic 0x${magicLE.toString(16)} (pcapng is not supported; tcpdump -w writes pcap)`);
  const u32 = (off: number) => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const snaplen = u32(16);
  const linkType = u32(20) & 0x0fffffff; // the upper bits may carry FCS information
  const packets: PcapPacket[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const origLen = u32(off + 12);
    off += 16;
    if (off + inclLen > file.length) break; // the last record was cut short (capture killed mid-write)
    packets.push({ time: sec + frac / (nano ? 1e9 : 1e6), data: file.subarray(off, off + inclLen), origLen });
    off += inclLen;
  }
  return { linkType, snaplen, packets };
}

export interface TcpSegment {
  time: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  syn: boolean;
  fin: boolean;
  rst: boolean;
  payload: Buffer;
  /** True when snaplen cut the segment's payload. */
  truncated: boolean;
}

const ipv4 = (b: Buffer, off: number) => `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

/** The IPv4 packet inside a link-layer frame, or undefined for anything else (ARP, IPv6...). */
function ipPayloadOf(linkType: number, frame: Buffer): Buffer | undefined {
  let etherType: number;
  let off: number;
  if (linkType === LINKTYPE_ETHERNET) {
    if (frame.length < 14) return undefined;
    etherType = frame.readUInt16BE(12);
    off = 14;
    while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= off + 4) {
      etherType = frame.readUInt16BE(off + 2); // 802.1Q / 802.1ad tag
      off += 4;
    }
  } else if (linkType === LINKTYPE_LINUX_SLL) {
    if (frame.length < 16) return undefined;
    etherType = frame.readUInt16BE(14);
    off = 16;
  } else if (linkType === LINKTYPE_LINUX_SLL2) {
    if (frame.length < 20) return undefined;
    etherType = frame.readUInt16BE(0);
    off = 20;
  } else {
    throw new Error(`pcap: link type ${linkType} is not supported (Ethernet, Linux cooked v1/v2 are)`);
  }
  return etherType === 0x0800 ? frame.subarray(off) : undefined;
}

/** The TCP segment in a captured frame, or undefined when it holds no (unfragmented) IPv4 TCP. */
export function parseTcp(linkType: number, packet: PcapPacket): TcpSegment | undefined {
  const ip = ipPayloadOf(linkType, packet.data);
  if (!ip || ip.length < 20 || ip[0]! >> 4 !== 4) return undefined;
  const ihl = (ip[0]! & 0x0f) * 4;
  if (ip[9] !== 6 || ip.length < ihl + 20) return undefined;
  const fragment = ip.readUInt16BE(6);
  if ((fragment & 0x1fff) !== 0 || (fragment & 0x2000) !== 0) return undefined; // fragments: not reassembled here
  // total length 0 marks a GSO super-packet larger than 64 KiB (BIG TCP): use what was captured.
  const total = ip.readUInt16BE(2);
  const ipEnd = total === 0 ? ip.length : Math.min(total, ip.length);
  const tcp = ip.subarray(ihl, ipEnd);
  const dataOffset = (tcp[12]! >> 4) * 4;
  if (tcp.length < dataOffset) return undefined;
  const flags = tcp[13]!;
  const wireTotal = total === 0 ? ip.length : total;
  return {
    time: packet.time,
    src: ipv4(ip, 12),
    dst: ipv4(ip, 16),
    srcPort: tcp.readUInt16BE(0),
    dstPort: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.readUInt32BE(8),
    syn: (flags & 0x02) !== 0,
    fin: (flags & 0x01) !== 0,
    rst: (flags & 0x04) !== 0,
    payload: tcp.subarray(dataOffset),
    truncated: wireTotal > ip.length,
  };
}

/** One direction of one TCP connection, its payload reassembled in sequence order. */
export interface Flow {
  /** "src:port>dst:port" */
  key: string;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** The stream's bytes in order (gaps are skipped, and counted). */
  bytes: Buffer;
  /** Whether the SYN was captured, i.e. `bytes` starts at the stream's first byte. */
  fromStart: boolean;
  segments: number;
  /** Segments (or parts) whose bytes were already in the stream: retransmissions, duplicates. */
  duplicates: number;
  /** Holes in the sequence space (lost or not captured), and their total size. */
  gaps: number;
  gapBytes: number;
  /** Segments whose payload snaplen cut. */
  truncated: number;
  firstTime: number;
}

/** Every TCP flow direction in the capture (only those that carried payload or a SYN). */
export function tcpFlows(pcap: Pcap): Flow[] {
  const byKey = new Map<string, TcpSegment[]>();
  for (const p of pcap.packets) {
    const s = parseTcp(pcap.linkType, p);
    if (!s) continue;
    const key = `${s.src}:${s.srcPort}>${s.dst}:${s.dstPort}`;
    let list = byKey.get(key);
    if (!list) {
      list = [];
      byKey.set(key, list);
    }
    list.push(s);
  }
  const flows: Flow[] = [];
  for (const [key, segs] of byKey) {
    const syn = segs.find((s) => s.syn);
    // Sequence numbers relative to the first data byte (ISN + 1 when the SYN was seen, else the
    // lowest sequence number seen), with 32-bit wraparound.
    const first = segs[0]!.seq;
    const signed = (seq: number) => (seq - first) | 0;
    let base: number;
    if (syn) base = (syn.seq + 1) >>> 0;
    else base = (first + Math.min(...segs.map((s) => signed(s.seq)))) >>> 0;
    const rel = (seq: number) => (seq - base) | 0;
    const data = segs
      .filter((s) => s.payload.length > 0)
      .map((s) => ({ off: rel(s.seq), payload: s.payload, truncated: s.truncated }));
    data.sort((a, b) => a.off - b.off);
    const parts: Buffer[] = [];
    let cursor = 0;
    let duplicates = 0;
    let gaps = 0;
    let gapBytes = 0;
    let truncated = 0;
    for (const d of data) {
      if (d.truncated) truncated++;
      const end = d.off + d.payload.length;
      if (end <= cursor) {
        duplicates++;
        continue;
      }
      if (d.off > cursor) {
        gaps++;
        gapBytes += d.off - cursor;
        parts.push(d.payload);
      } else {
        if (d.off < cursor) duplicates++;
        parts.push(d.payload.subarray(cursor - d.off));
      }
      cursor = end;
    }
    const [from, to] = key.split('>') as [string, string];
    const [src, srcPort] = from.split(':') as [string, string];
    const [dst, dstPort] = to.split(':') as [string, string];
    flows.push({
      key,
      src,
      srcPort: Number(srcPort),
      dst,
      dstPort: Number(dstPort),
      bytes: Buffer.concat(parts),
      fromStart: syn !== undefined,
      segments: segs.length,
      duplicates,
      gaps,
      gapBytes,
      truncated,
      firstTime: segs[0]!.time,
    });
  }
  return flows.sort((a, b) => a.firstTime - b.firstTime);
}

/** Non-overlapping occurrences of `needle` in `hay`. */
export function countOccurrences(hay: Buffer, needle: Buffer | string): number {
  const n = typeof needle === 'string' ? Buffer.from(needle) : needle;
  if (n.length === 0) return 0;
  let count = 0;
  for (let i = hay.indexOf(n); i !== -1; i = hay.indexOf(n, i + n.length)) count++;
  return count;
}

export const TLS_CHANGE_CIPHER_SPEC = 20;
export const TLS_ALERT = 21;
export const TLS_HANDSHAKE = 22;
export const TLS_APPLICATION_DATA = 23;

export interface TlsWalk {
  /** Record headers found walking from byte 0, record by record. */
  records: number;
  /** Records by content type (20..23). */
  byType: Record<number, number>;
  /** Handshake (22) and application data (23) records with legacy_record_version 0x0303. */
  handshake0303: number;
  applicationData0303: number;
  /** Bytes of application data record bodies (ciphertext). */
  applicationDataBytes: number;
  /** Whether the walk consumed the whole stream (a last record cut by the capture's end counts as consumed). */
  complete: boolean;
  /** Where the walk stopped on something that is not a TLS record header, if it did. */
  badOffset?: number;
  badBytes?: string;
}

/**
 * Walks a stream's TLS records from its first byte: each record is a 5-byte header (content
 * type 20..23, version 0x0301..0x0303, length <= 2^14 + 2048) followed by `length` bytes, and
 * the next header must start exactly there. A plaintext stream fails at byte 0.
 */
export function walkTls(stream: Buffer): TlsWalk {
  const w: TlsWalk = {
    records: 0,
    byType: {},
    handshake0303: 0,
    applicationData0303: 0,
    applicationDataBytes: 0,
    complete: true,
  };
  let off = 0;
  while (off < stream.length) {
    if (off + 5 > stream.length) break; // a header cut by the end of the capture
    const type = stream[off]!;
    const version = stream.readUInt16BE(off + 1);
    const length = stream.readUInt16BE(off + 3);
    if (type < 20 || type > 23 || version < 0x0301 || version > 0x0303 || length > 16384 + 2048) {
      w.complete = false;
      w.badOffset = off;
      w.badBytes = stream.subarray(off, off + 16).toString('hex');
      break;
    }
    w.records++;
    w.byType[type] = (w.byType[type] ?? 0) + 1;
    if (version === 0x0303 && type === TLS_HANDSHAKE) w.handshake0303++;
    if (version === 0x0303 && type === TLS_APPLICATION_DATA) {
      w.applicationData0303++;
      w.applicationDataBytes += Math.min(length, stream.length - off - 5);
    }
    off += 5 + length;
  }
  return w;
}
