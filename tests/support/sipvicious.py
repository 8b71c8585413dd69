"""SIPVicious (Debian `sipvicious`) scanning the edge from a loopback address of its own.

svwar 0.3.3, like svcrack, takes `-b ADDRESS` but never hands it to its scanner, which
binds the wildcard address and so sends from 127.0.0.1, the LAN phones' address in the
tests. The shim binds svwar's own socket to the address asked for; every packet is
still svwar's."""
from __future__ import annotations

import subprocess

SHIM = """
import socket, sys
source = sys.argv.pop(1)
bind = socket.socket.bind
socket.socket.bind = lambda self, addr: bind(self, (source, addr[1]))
sys.argv[0] = "svwar"
sys.path.insert(0, "/usr/share/sipvicious")  # where Debian puts the package (/usr/bin/svwar links there)
from sipvicious.svwar import main
sys.exit(main())
"""


def svwar(source: str, port: int, extensions: str = "100-120", seconds: int = 5) -> str:
    """Run svwar against the edge on 127.0.0.1:port from `source`; what it printed."""
    # The system's python3 runs Debian's sipvicious, not the project's venv.
    res = subprocess.run(["/usr/bin/python3", "-c", SHIM, source, "-p", str(port), "-e", extensions,
                          "--maximumtime", str(seconds), "127.0.0.1"],
                         capture_output=True, text=True, timeout=120)
    return res.stdout + res.stderr
