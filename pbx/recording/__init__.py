"""Call recording: policies, files, compression, retention, the disk guard and the audit log."""
