"""CRM bridge: live events (webhooks signed the Standard Webhooks way, server-sent events)
behind a durable outbox in the call journal's SQLite file (docs/architecture.md)."""
