"""The PBX layer: media engine, SIP edge, calls, storage, CLI (see DESIGN.md)."""
