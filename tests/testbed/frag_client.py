#!/usr/bin/env python3
# Sends fragmented IPv4 datagrams to an echo server with the kernel's own
# stack (test_bifurcation.sh runs it in the client namespace), and checks
# that the kernel really fragmented them (Ip FragCreates in /proc/net/snmp).
#
#   frag_client.py udp ADDR PORT SIZE   one datagram; prints "echo intact",
#                                       "no echo" or "echo MISMATCH"
#   frag_client.py tcp ADDR PORT SIZE   one connection, SIZE bytes echoed
#                                       back whole or exit 1
# Exit 0 when the data went out fragmented (UDP: when SIZE needs more than
# one 1500-byte frame) and, for TCP, came back intact.
import socket
import sys

IP_MTU_DISCOVER = 10
IP_PMTUDISC_PROBE = 3


def frag_creates():
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Ip:")]
    return int(lines[1][lines[0].index("FragCreates")])


def pattern(n):
    return bytes((i * 7 + i // 251) & 0xFF for i in range(n))


def main():
    mode, addr, port, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    data = pattern(size)
    before = frag_creates()
    if mode == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        s.sendto(data, (addr, port))
        try:
            got, _ = s.recvfrom(65536)
            print("echo intact" if got == data else "echo MISMATCH")
            ok = got == data
        except socket.timeout:
            print("no echo")
            ok = True
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # No DF, and fragments cut to the device MTU although TCP's MSS
        # follows the route's larger MTU: the kernel fragments TCP segments.
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
        s.settimeout(5.0)
        s.connect((addr, port))
        s.sendall(data)
        got = b""
        try:
            while len(got) < size:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        s.close()
        ok = got == data
        print("echo intact" if ok else "echo: %d of %d bytes, intact %s" %
              (len(got), size, got == data[:len(got)]))
    made = frag_creates() - before
    print("fragments sent %d" % made)
    must_fragment = mode == "tcp" or size > 1500 - 28
    sys.exit(0 if ok and (made > 0 or not must_fragment) else 1)


if __name__ == "__main__":
    main()
