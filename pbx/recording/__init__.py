"""Call recording: the recordings' table and files (store), who listened or deleted
(audit), the worker that compresses a finished WAV (compress), retention and the disk
guard, and the service thread that runs those two."""
