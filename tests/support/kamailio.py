"""Run Debian's Kamailio on loopback as a peer for the benchmarks: a registrar with digest
auth (auth_db over db_text) holding the same users and passwords as the edge's extensions.

Everything it needs (config, db_text tables, pid file, runtime dir, log) lives in one
directory of the caller's; it runs in the foreground and is stopped by its process id.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.daemon import free_port

MODULES = ["tm", "sl", "rr", "maxfwd", "textops", "siputils", "xlog", "sanity", "pv",
           "db_text", "usrloc", "registrar", "auth", "auth_db"]

# The route mirrors what the edge does for a REGISTER: challenge (qop=auth, nonces valid
# 300 s), the To user must be the authenticated one, then the binding is saved in memory
# (usrloc db_mode 0, as the edge's registrar). Unlike the edge, nonce counts are not
# tracked: with auth's nonce_count on, Kamailio 5.6 with 2 workers refused a few honest
# first uses of a nonce (401) from about 8000/s, failures of its own that hide its rate.
CONFIG = """#!KAMAILIO
debug=1
log_stderror=yes
children={children}
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}

{loads}

modparam("usrloc", "db_mode", 0)
modparam("auth", "nonce_expire", 300)
modparam("auth_db", "db_url", "text://{db}")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("auth_db", "load_credentials", "")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check()) {{
        exit;
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (!is_method("REGISTER")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    if (!www_authorize("{realm}", "subscriber")) {{
        www_challenge("{realm}", "1");
        exit;
    }}
    if ($au != $tU) {{
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{
        sl_reply_error();
    }}
    exit;
}}
"""


def available() -> bool:
    return shutil.which("kamailio") is not None


def write_db(db: Path, users: list[tuple[str, str]], realm: str) -> None:
    """db_text tables: `subscriber` (plain password and the HA1s, which auth_db reads) and
    the `version` table auth_db checks the subscriber schema against."""
    db.mkdir(parents=True, exist_ok=True)
    (db / "version").write_text("table_name(string) table_version(int)\nsubscriber:7\n")
    rows = ["id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string)"]
    for i, (user, password) in enumerate(users, 1):
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
        ha1b = hashlib.md5(f"{user}@{realm}:{realm}:{password}".encode()).hexdigest()
        rows.append(f"{i}:{user}:{realm}:{password}:{ha1}:{ha1b}")
    (db / "subscriber").write_text("\n".join(rows) + "\n")


class Kamailio:
    def __init__(self, workdir: Path, users: list[tuple[str, str]], *, realm: str = "pbx",
                 children: int = 2) -> None:
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "kamailio.log"
        self.config = workdir / "kamailio.cfg"
        write_db(workdir / "db", users, realm)
        loads = "\n".join(f'loadmodule "{m}.so"' for m in MODULES)
        self.config.write_text(CONFIG.format(children=children, port=self.port, loads=loads,
                                             db=workdir / "db", realm=realm))

    @property
    def sip(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> "Kamailio":
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        # -DD: stay in the foreground yet fork the workers; -E: log to stderr (the file).
        cmd = ["kamailio", "-DD", "-E", "-f", str(self.config), "-P", str(run / "kamailio.pid"),
               "-Y", str(run), "-w", str(self.dir)]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if not self._answers(timeout):
            self.stop()
            raise RuntimeError("kamailio did not start:\n" + self.log_path.read_text()[-3000:])
        return self

    def _answers(self, timeout: float) -> bool:
        """Ready once an OPTIONS on its port gets a 200."""
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(0.2)
            me = sock.getsockname()[1]
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    return False
                sock.sendto(options(self.port, me), ("127.0.0.1", self.port))
                try:
                    if sock.recv(4096).startswith(b"SIP/2.0 200"):
                        return True
                except OSError:
                    pass
        return False

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM to its own process group (the main process and the workers it forked)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


def options(port: int, me: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{time.monotonic_ns()}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{time.monotonic_ns()}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
