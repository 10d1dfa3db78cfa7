"""Ports: /proc/net/tcp parsing, and real sockets held by this test process."""

from __future__ import annotations

import os
import socket
import threading

from hdhooks.instance.ports import holders, is_free, listening_ports, wait_free

# /proc/net/tcp with a listener on 127.0.0.1:8080 (0x1F90), a listener on
# 0.0.0.0:22, and an established connection from port 8081 (not listening).
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A
"""


def test_listening_ports_parses_both_families() -> None:
    assert listening_ports(PROC_NET_TCP) == {8080, 22}
    assert listening_ports(PROC_NET_TCP6) == {443}
    assert listening_ports("") == set()


def listener() -> tuple[socket.socket, int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def test_a_held_port_names_this_process() -> None:
    s, port = listener()
    try:
        assert not is_free(port)
        found = holders(port)
        assert [h.pid for h in found] == [os.getpid()]
        assert found[0].address == "127.0.0.1"
        assert found[0].describe().startswith(f"pid {os.getpid()} (")
        assert wait_free(port, timeout=0.05)[0].pid == os.getpid()
    finally:
        s.close()
    assert is_free(port)
    assert holders(port) == []


def test_wait_free_returns_when_the_holder_lets_go() -> None:
    s, port = listener()
    timer = threading.Timer(0.2, s.close)
    timer.start()
    try:
        assert wait_free(port, timeout=10) == []
    finally:
        timer.cancel()
        s.close()


def test_a_connected_but_not_listening_port_is_free() -> None:
    s, port = listener()
    c = socket.create_connection(("127.0.0.1", port))
    client_port = c.getsockname()[1]
    try:
        assert is_free(client_port)
    finally:
        c.close()
        s.close()
