"""Baseline for bench_calls: a bare pjsua2 (same build and media settings as the
appliance) answering SIPp calls and echoing their audio. Runs until SIGTERM.

    python tests/bench/bare_pjsua2.py PORT
"""
from __future__ import annotations

import os
import signal
import sys

import pjsua2 as pj

from pbx.media.engine import MediaEngine


class EchoCall(pj.Call):
    def onCallMediaState(self, prm: "pj.OnCallMediaStateParam") -> None:
        ci = self.getInfo()
        for idx, media in enumerate(ci.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(idx)
                audio.startTransmit(audio)

    def onCallState(self, prm: "pj.OnCallStateParam") -> None:
        if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
            Answerer.ended.append(self)


class Answerer(pj.Account):
    calls: list[EchoCall] = []
    ended: list[EchoCall] = []

    def onIncomingCall(self, prm: "pj.OnIncomingCallParam") -> None:
        call = EchoCall(self, prm.callId)
        self.calls.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


def main() -> None:
    port = int(sys.argv[1])
    engine = MediaEngine("127.0.0.1", port, media_host="127.0.0.1")
    engine.start()
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:bare@127.0.0.1:{port}"
    cfg.mediaConfig.transportConfig = engine.media_transport_config()
    acc = Answerer()
    acc.create(cfg, True)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    print("ready", flush=True)
    while running[0]:
        engine.poll(10)
        for call in Answerer.ended:  # drop finished calls outside their callbacks
            if call in Answerer.calls:
                Answerer.calls.remove(call)
        Answerer.ended.clear()
    Answerer.calls.clear()
    Answerer.ended.clear()
    acc.shutdown()
    del acc
    engine.stop()
    os._exit(0)  # the baseline's numbers are in; skip SWIG's teardown-order checks


if __name__ == "__main__":
    main()
