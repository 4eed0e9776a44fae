"""Loaded by the ``qa serve`` process under test (its PYTHONPATH starts with this folder):
any connection outside loopback fails and is written to $QA_TEST_NETWORK_LOG, which the test
checks, as the conftest guard does for the test process itself."""

import ipaddress
import os
import socket

_LOG = os.environ.get("QA_TEST_NETWORK_LOG")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _outside(sock, address) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return False
    host = address[0]
    if host in ("localhost", ""):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def _refuse(address) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{address!r}\n")
    raise OSError(101, f"the test server tried to reach the network: {address!r}")


def _connect(self, address):
    if _outside(self, address):
        _refuse(address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    if _outside(self, address):
        _refuse(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
