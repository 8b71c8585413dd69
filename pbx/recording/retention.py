"""Retention: recordings older than the owner keeps them, then the oldest while all of
them together are over the quota. Only finished recordings (store.oldest): a call being
recorded or compressed is never swept."""
from __future__ import annotations

from pbx.recording.store import RecordingStore

BATCH = 100


def sweep(store: RecordingStore, *, max_age_days: float, quota_bytes: int, now: float) -> list[str]:
    """The call ids deleted, oldest first; 0 turns either rule off."""
    deleted: list[str] = []
    if max_age_days > 0:
        cutoff = now - max_age_days * 86400
        while batch := [r for r in store.oldest(BATCH) if r.started < cutoff]:
            deleted += [r.call_id for r in batch if store.delete(r.call_id)]
            if len(batch) < BATCH:
                break
    if quota_bytes > 0:
        total = store.total_size()
        while total > quota_bytes and (batch := store.oldest(BATCH)):
            before = len(deleted)
            for rec in batch:
                if total <= quota_bytes:
                    break
                if store.delete(rec.call_id):
                    deleted.append(rec.call_id)
                total -= rec.size
            if len(deleted) == before:
                break
            total = store.total_size()  # recordings finished meanwhile count too
    return deleted
