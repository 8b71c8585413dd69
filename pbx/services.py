"""What the web admin and the CLI are handed: the stores and live views of the daemon."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from pbx.contacts.callers import CallerPolicy
from pbx.contacts.history import caller_history
from pbx.contacts.store import ContactStore, open_contacts
from pbx.errors import LineUnavailable
from pbx.store.admin import AdminStore
from pbx.store.extensions import ExtensionStore
from pbx.store.journal import CallJournal
from pbx.store.settings import Settings
from pbx.store.tokens import TokenStore
from pbx.store.trunks import TrunkStore

if TYPE_CHECKING:
    from pbx.crm.outbox import Outbox
    from pbx.crm.sse import EventHub
    from pbx.crm.webhooks import WebhookStore
    from pbx.dialplan.prompts import PromptLibrary
    from pbx.dialplan.store import DialPlanStore
    from pbx.recording.audit import AuditLog
    from pbx.recording.store import RecordingStore


def _none() -> list[dict]:
    return []


def _not_running(*args: Any) -> Any:
    raise LineUnavailable("the daemon is not running")


# "degraded": features a line is up without (its modem refused their optional init step)
STOPPED: dict[str, Any] = {"state": "stopped", "operator": "", "signal_dbm": None, "in_call": False, "degraded": []}


@dataclass
class Services:
    extensions: ExtensionStore
    tokens: TokenStore
    admin: AdminStore
    journal: CallJournal
    trunks: TrunkStore
    registrations: Callable[[], list[dict]] = field(default=_none)
    active_calls: Callable[[], list[dict]] = field(default=_none)
    status: Callable[[], dict] = field(default=dict)
    lines: Callable[[], dict] = field(default=dict)  # live line states by trunk name
    send_sms: Callable[..., Any] = field(default=_not_running)  # (to, text, trunk): the daemon sends
    ussd: Callable[..., Any] = field(default=_not_running)  # (trunk, code): the daemon asks
    simulators: dict[str, Any] = field(default_factory=dict)  # development mode: name -> SimModem
    bans: Callable[[], list[dict]] = field(default=_none)  # sources the SIP edge has banned
    clear_bans: Callable[[str | None], int] = field(default=_not_running)  # (address or None): lifted
    # None where the module is not installed yet (the web admin and CLI then say so)
    dialplan: DialPlanStore | None = None
    prompts: PromptLibrary | None = None
    caller_policy: Callable[[], Any] = field(default=CallerPolicy)  # the owner's VIP mark, repeat window

    def caller_history(self, number: str, limit: int = 10) -> dict:
        """The contact and last calls of a number (REST bridge, CLI, page, call.ringing)."""
        policy = self.caller_policy()
        return caller_history(self.journal, self.contacts, number, limit=limit,
                              repeat_calls=policy.repeat_calls, repeat_hours=policy.repeat_hours)
    contacts: ContactStore | None = None
    outbox: Outbox | None = None  # CRM events and their deliveries (in the journal's file)
    webhooks: WebhookStore | None = None
    events: EventHub | None = None  # live events (SSE); the daemon sets it
    recordings: RecordingStore | None = None  # call recordings (tables in the journal's file)
    audit: AuditLog | None = None  # who listened to or deleted which recording
    settings: Settings | None = None  # the owner's settings (pbx config set), for the pages and the REST bridge
    # (call id, "start"|"stop") -> the live call's recording state: the daemon's core does it
    record_control: Callable[[str, str], dict] | None = None  # None: no daemon runs

    def trunk_views(self) -> list[dict]:
        """Each configured trunk with its line's live state ("stopped" without a daemon)."""
        try:
            states = self.lines()
        except Exception:  # the core did not answer in time: show the configuration
            states = {}
        return [{**t.public(), **STOPPED, **states.get(t.name, {})} for t in self.trunks.list()]

    def close(self) -> None:
        for store in (self.extensions, self.tokens, self.admin, self.journal, self.trunks, self.dialplan,
                      self.contacts, self.settings):
            if store is not None:
                store.close()


def _dial_plan(data_dir: Path, extensions: ExtensionStore, trunks: TrunkStore) -> tuple[Any, Any]:
    """The dial plan store (it checks the extensions and lines an object names, and that
    its number is no extension) and the prompt library; each None while its module is
    not installed."""
    try:
        from pbx.dialplan.store import DialPlanStore
    except ImportError:
        plan = None
    else:
        plan = DialPlanStore(data_dir, extensions=extensions, trunks=trunks)
        extensions.number_owner = lambda number: plan.snapshot().by_number(number)
    try:
        from pbx.dialplan.prompts import PromptLibrary
    except ImportError:
        return plan, None
    return plan, PromptLibrary(data_dir)


def _crm(journal: CallJournal) -> tuple[Any, Any]:
    """The CRM outbox and webhook endpoints, tables in the journal's file; the outbox
    writes call.ended in the call record's own transaction (the journal's hook)."""
    try:
        from pbx.crm.outbox import Outbox
        from pbx.crm.webhooks import WebhookStore
    except ImportError:
        return None, None
    outbox = Outbox(journal)
    journal.on_record = outbox.on_record
    return outbox, WebhookStore(journal)


def _recordings(journal: CallJournal, data_dir: Path) -> tuple[Any, Any]:
    """The recordings and their audit log, tables in the journal's file; deleting a call
    record deletes its recording (the journal's on_delete hook)."""
    try:
        from pbx.recording.audit import AuditLog
        from pbx.recording.store import RecordingStore
    except ImportError:
        return None, None
    recordings = RecordingStore(journal, data_dir)
    journal.on_delete = recordings.delete
    return recordings, AuditLog(journal)


def open_services(data_dir: Path, realm: str = "pbx", *, live: bool = False) -> Services:
    """live: for the daemon (the contacts' in-memory index and its watch thread); a CLI
    command or a test reads the files as it goes."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    extensions, trunks = ExtensionStore(data_dir, realm), TrunkStore(data_dir)
    plan, prompts = _dial_plan(data_dir, extensions, trunks)
    journal = CallJournal(data_dir / "calls.sqlite")
    outbox, webhooks = _crm(journal)
    recordings, audit = _recordings(journal, data_dir)
    return Services(extensions=extensions, tokens=TokenStore(data_dir),
                    admin=AdminStore(data_dir), journal=journal, trunks=trunks, dialplan=plan, prompts=prompts,
                    contacts=open_contacts(data_dir, live=live), outbox=outbox, webhooks=webhooks,
                    recordings=recordings, audit=audit, settings=Settings(data_dir))
