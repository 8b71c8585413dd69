"""The office's contacts: who a caller is, found on the ring path without touching the disk."""
