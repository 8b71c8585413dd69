"""The PBX layer: media engine, SIP edge, calls, storage, CLI (see docs/architecture.md)."""
