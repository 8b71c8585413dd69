"""Run SIPp (Debian's sip-tester) with the project's scenarios in tests/sipp/."""
from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "sipp"


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    successful: int
    failed: int

    def explain(self) -> str:
        return (f"rc={self.returncode} ok={self.successful} failed={self.failed}\n"
                f"{self.stderr[-3000:]}\n{self.stdout[-3000:]}")


def users_csv(path: Path, users: Sequence[tuple[str, ...]], mode: str = "SEQUENTIAL") -> Path:
    """One line per call: user;password;[authentication ...];number to call (optional)."""
    lines = [mode] + [f"{u[0]};{u[1]};[authentication username={u[0]} password={u[1]}];"
                      f"{u[2] if len(u) > 2 else ''}" for u in users]
    path.write_text("\n".join(lines) + "\n")
    return path


def scenario_file(name: str, workdir: Path, params: dict[str, str], flags: set[str]) -> Path:
    """Fill a scenario template: @KEY@ becomes params[KEY] (SIPp takes no variable in
    play_pcap_audio, rtp_stream or SDP ports), and a line naming a key not given is left
    out (no RTP from SIPp); a line ending in <!--if:FLAG--> stays only with FLAG."""
    out = []
    for line in (SCENARIOS / name).read_text().splitlines(keepends=True):
        flag = re.search(r"<!--if:(\w+)-->", line)
        if flag and flag.group(1) not in flags:
            continue
        keys = re.findall(r"@([A-Z]+)@", line)
        if any(key not in params for key in keys):
            continue
        for key in keys:
            line = line.replace(f"@{key}@", params[key])
        out.append(line)
    text = "".join(out)
    path = workdir / f"{Path(name).stem}-{hashlib.sha1(text.encode()).hexdigest()[:8]}.xml"
    if not path.exists():  # named by its content; rewriting it under a running SIPp breaks it
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def sipp_args(scenario: str, target: str, *, csv: Path, local_port: int, calls: int = 1,
              service: str = "", rate: float | None = None, params: dict[str, str] | None = None,
              flags: set[str] | None = None, extra: list[str] | None = None,
              timeout_s: int = 60, local_ip: str = "127.0.0.1") -> list[str]:
    path = scenario_file(scenario, csv.parent, params or {}, flags or set())
    args = ["sipp", target, "-sf", str(path), "-inf", str(csv), "-i", local_ip,
            "-p", str(local_port), "-m", str(calls), "-nostdin",
            "-timeout", f"{timeout_s}s", "-timeout_error", "-trace_stat", "-trace_err",
            "-max_recv_loops", "10000"]
    if service:
        args += ["-s", service]
    if rate is not None:
        args += ["-r", str(rate)]
    return args + (extra or [])


def parse_counts(text: str) -> tuple[int, int]:
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    return (int(ok[-1]) if ok else 0, int(bad[-1]) if bad else 0)


def elapsed_s(text: str) -> float | None:
    """Seconds from SIPp's start to the end of its run, from its last statistics screen (its
    own cumulative "Elapsed Time" is unreliable in Debian's build); None if not printed."""
    start = re.findall(r"Start Time\s*\|[^|]*?(\d+\.\d+)\s*$", text, re.M)
    now = re.findall(r"Current Time\s*\|[^|]*?(\d+\.\d+)\s*$", text, re.M)
    return float(now[-1]) - float(start[-1]) if start and now else None


def run(args: list[str], cwd: Path, timeout: float = 120) -> SippResult:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    ok, bad = parse_counts(proc.stdout)
    return SippResult(proc.returncode, proc.stdout, proc.stderr, ok, bad)


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 120) -> SippResult:
    out, err = proc.communicate(timeout=timeout)
    ok, bad = parse_counts(out)
    return SippResult(proc.returncode, out, err, ok, bad)


def info_keys(digits: str, duration_ms: int, pause_ms: int = 500) -> str:
    """Scenario steps for uac_dtmf.xml's INFOKEYS line: after pause_ms in the call, one
    in-dialog SIP INFO (application/dtmf-relay) per key, each waiting for its 200."""
    steps = [f'  <pause milliseconds="{pause_ms}"/>']
    for n, digit in enumerate(digits, start=3):  # CSeq 1 and 2 are the INVITEs
        steps.append(f"""  <send retrans="500"><![CDATA[
INFO [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
[routes]
From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[field3]@[remote_ip]>[peer_tag_param]
Call-ID: [call_id]
CSeq: {n} INFO
Max-Forwards: 70
Content-Type: application/dtmf-relay
Content-Length: [len]

Signal={digit}
Duration={duration_ms}
]]></send>
  <recv response="200"/>""")
    return "\n".join(steps)


def received_info_keys(trace: str) -> list[tuple[str, int]]:
    """(Signal, Duration) of each dtmf-relay INFO in a -trace_msg log, once per CSeq (a
    retransmission is the same key)."""
    keys: dict[str, tuple[str, int]] = {}
    for message in re.split(r"\n-{20,}[^\n]*\n", trace):
        if not re.search(r"^INFO sip:", message, re.MULTILINE):
            continue
        cseq = re.search(r"^CSeq:\s*(\d+)", message, re.MULTILINE | re.IGNORECASE)
        signal = re.search(r"^Signal\s*=\s*(\S)", message, re.MULTILINE)
        duration = re.search(r"^Duration\s*=\s*(\d+)", message, re.MULTILINE)
        if cseq and signal:
            keys.setdefault(cseq.group(1), (signal.group(1), int(duration.group(1)) if duration else -1))
    return list(keys.values())
