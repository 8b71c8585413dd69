"""Digest auth: MD5 and SHA-256 with qop=auth, expiry (stale), nonce-count replay,
and a 401 for an unknown user identical to one for a wrong password."""
from __future__ import annotations

import hashlib
import re

import pytest

from pbx.sip.digest import DigestAuth, Verdict
from tests.support.rawsip import digest


class Creds:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def ha1(self, user: str, realm: str, algorithm: str) -> str | None:
        if user not in self.users:
            return None
        h = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
        return h(f"{user}:{realm}:{self.users[user]}".encode()).hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(challenge: str, user: str, password: str, method: str = "REGISTER",
           uri: str = "sip:pbx", nc: str = "00000001", algorithm: str = "MD5") -> str:
    return digest(challenge, user, password, method, uri, nc, algorithm)


@pytest.fixture
def auth() -> DigestAuth:
    return DigestAuth("pbx", Creds({"101": "amber-Falcon-42"}), clock=Clock(),
                      algorithms=("SHA-256", "MD5"))


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_both_algorithms_verify(auth: DigestAuth, algorithm: str) -> None:
    challenge = auth.challenges()[0]
    result = auth.verify(answer(challenge, "101", "amber-Falcon-42", algorithm=algorithm), "REGISTER")
    assert (result.verdict, result.user) == (Verdict.OK, "101")


def test_challenges_offer_sha256_first_when_configured(auth: DigestAuth) -> None:
    first, second = auth.challenges()
    assert "algorithm=SHA-256" in first and "algorithm=MD5" in second and 'qop="auth"' in first


def test_md5_only_by_default_but_sha256_answers_still_accepted() -> None:
    auth = DigestAuth("pbx", Creds({"101": "amber-Falcon-42"}))
    (only,) = auth.challenges()
    assert "algorithm=MD5" in only
    result = auth.verify(answer(only, "101", "amber-Falcon-42", algorithm="SHA-256"), "REGISTER")
    assert result.verdict is Verdict.OK


def test_wrong_password_unknown_user_and_wrong_method_fail(auth: DigestAuth) -> None:
    c = auth.challenges()[0]
    assert auth.verify(answer(c, "101", "wrong-Password-1"), "REGISTER").verdict is Verdict.FAILED
    assert auth.verify(answer(c, "999", "amber-Falcon-42"), "REGISTER").verdict is Verdict.FAILED
    assert auth.verify(answer(c, "101", "amber-Falcon-42", method="INVITE"), "REGISTER").verdict is Verdict.FAILED
    assert auth.verify(None, "REGISTER").verdict is Verdict.MISSING


def test_forged_nonce_fails(auth: DigestAuth) -> None:
    forged = 'Digest realm="pbx", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"'
    assert auth.verify(answer(forged, "101", "amber-Falcon-42"), "REGISTER").verdict is Verdict.FAILED


def test_expired_nonce_is_stale_not_failed(auth: DigestAuth) -> None:
    c = auth.challenges()[0]
    auth.clock.now += 301  # type: ignore[attr-defined]
    assert auth.verify(answer(c, "101", "amber-Falcon-42"), "REGISTER").verdict is Verdict.STALE
    assert 'stale=true' in auth.challenges(stale=True)[0]


def test_nonce_count_must_increase(auth: DigestAuth) -> None:
    c = auth.challenges()[0]
    assert auth.verify(answer(c, "101", "amber-Falcon-42", nc="00000001"), "REGISTER").verdict is Verdict.OK
    assert auth.verify(answer(c, "101", "amber-Falcon-42", nc="00000001"), "REGISTER").verdict is Verdict.FAILED
    assert auth.verify(answer(c, "101", "amber-Falcon-42", nc="00000002"), "REGISTER").verdict is Verdict.OK


def test_challenge_does_not_depend_on_the_user(auth: DigestAuth) -> None:
    strip = lambda c: re.sub(r'nonce="[^"]+"', "", c)  # noqa: E731
    assert strip(auth.challenges()[0]) == strip(auth.challenges()[0])


def test_nonce_counts_are_bounded_and_a_forgotten_nonce_is_never_replayed(monkeypatch) -> None:
    import pbx.sip.digest as digest_module
    monkeypatch.setattr(digest_module, "MAX_NONCES", 3)
    clock = Clock()
    auth = DigestAuth("pbx", Creds({"101": "amber-Falcon-42"}), clock=clock)
    answers = []
    for _ in range(5):
        challenge = auth.challenges()[0]
        clock.now += 1
        answers.append(answer(challenge, "101", "amber-Falcon-42"))
        assert auth.verify(answers[-1], "REGISTER").verdict is Verdict.OK
    assert len(auth._counts) == 3
    # The first two nonces' counts were dropped for the cap: their replays are refused.
    assert auth.verify(answers[0], "REGISTER").verdict is Verdict.FAILED
    assert auth.verify(answers[4], "REGISTER").verdict is Verdict.FAILED  # remembered: nc not higher
