"""Drivers for the physical world: modems, GPIO, DSP. Never imports pbx or webadmin."""
