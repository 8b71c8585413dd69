"""Signal processing for line audio (8 kHz, 16-bit mono): DTMF, call-progress tones,
FSK caller ID. numpy only."""
from hardware.dsp.dtmf import DtmfDetector, DtmfEvent, dtmf_tone
from hardware.dsp.fsk_cid import CallerIdInfo, ChecksumError
from hardware.dsp.fsk_cid import decode as decode_caller_id
from hardware.dsp.tones import ToneDetector, ToneEvent

__all__ = ["DtmfDetector", "DtmfEvent", "dtmf_tone", "CallerIdInfo", "ChecksumError",
           "decode_caller_id", "ToneDetector", "ToneEvent"]
