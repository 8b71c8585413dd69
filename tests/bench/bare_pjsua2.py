"""Baseline for bench_calls and bench_ivr: a bare pjsua2 (same build and media settings
as the appliance) answering SIPp calls and echoing their audio, or with --play playing
a WAV file (looped, one player per call) to each caller instead. Runs until SIGTERM.

    python tests/bench/bare_pjsua2.py PORT [--play FILE]
"""
from __future__ import annotations

import argparse
import os
import signal

import pjsua2 as pj

from pbx.media.engine import MediaEngine


class EchoCall(pj.Call):
    play = ""  # a WAV file every call hears instead of its own audio (main() sets it)

    def __init__(self, acc: pj.Account, call_id: int) -> None:
        super().__init__(acc, call_id)
        self.player: pj.AudioMediaPlayer | None = None

    def onCallMediaState(self, prm: "pj.OnCallMediaStateParam") -> None:
        ci = self.getInfo()
        for idx, media in enumerate(ci.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(idx)
                if not self.play:
                    audio.startTransmit(audio)
                elif self.player is None:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.play)  # looped
                    self.player.startTransmit(audio)

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
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--play", default="", help="WAV file each caller hears (else its echo)")
    args = parser.parse_args()
    port, EchoCall.play = args.port, args.play
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
            call.player = None
        Answerer.ended.clear()
    Answerer.calls.clear()
    Answerer.ended.clear()
    acc.shutdown()
    del acc
    engine.stop()
    os._exit(0)  # the baseline's numbers are in; skip SWIG's teardown-order checks


if __name__ == "__main__":
    main()
