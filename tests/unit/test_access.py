import io

import pytest

from secmlops_core.access import audit, users
from secmlops_core.access.policy import (
    LOCAL_OPERATOR,
    PermissionDenied,
    Principal,
    acting_as,
    can,
    permissions_of,
)
from secmlops_core.cli import main
from secmlops_core.pipeline import library

VIEWER = Principal("vera", frozenset({"viewer"}), "Vera", "password")
PARTICIPANT = Principal("pat", frozenset({"participant"}), "Pat", "password", frozenset({"pds"}))
OPERATOR = Principal("olga", frozenset({"operator"}), "Olga", "password")


def test_roles_are_data_and_admin_holds_everything():
    assert permissions_of(VIEWER) == {"view"}
    assert {"edit_pipelines", "edit_threats"} <= permissions_of(PARTICIPANT)
    assert can("manage_users", principal=LOCAL_OPERATOR)
    with pytest.raises(ValueError, match="unknown permission"):
        can("fly", principal=LOCAL_OPERATOR)


def test_viewer_cannot_change_a_pipeline_in_the_core(store, pds_pipeline):
    with acting_as(VIEWER):
        with pytest.raises(PermissionDenied, match="Vera may not create, edit and save versions of pipelines"):
            library.save_version(store, pds_pipeline, "sneaky")
        with pytest.raises(PermissionDenied):
            library.save_draft(store, pds_pipeline, None)
    assert library.list_pipelines(store) == []


def test_participant_is_limited_to_their_workshop(store, pds_pipeline):
    with acting_as(PARTICIPANT):
        version = library.save_version(store, pds_pipeline, "workshop edit")
        assert version.author == "Pat"
        other = library.load_template("fraud_api")
        with pytest.raises(PermissionDenied, match="for pipeline 'fraud_api'"):
            library.save_version(store, other, "not mine")


def test_changes_are_audited_with_actor_before_after(store, pds_pipeline):
    with acting_as(PARTICIPANT):
        library.save_version(store, pds_pipeline, "first")
    entry = audit.entries(store)[-1]
    assert (entry.actor, entry.action, entry.subject) == ("Pat", "pipeline.save", "pds")
    assert '"version": 1' in entry.after


def test_hash_chain_detects_modification_removal_and_reordering(store, pds_pipeline):
    for index in range(4):
        audit.record_event(store, "test.event", f"subject-{index}", before={"i": index}, after={"i": index + 1})
    assert audit.verify_chain(store).ok
    with store.connect() as conn:
        conn.execute("UPDATE audit_log SET after = '{\"i\": 99}' WHERE seq = 3")
    check = audit.verify_chain(store)
    assert (check.ok, check.first_bad_seq) == (False, 3)
    assert "modified" in check.problem
    with store.connect() as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
    check = audit.verify_chain(store)
    assert check.first_bad_seq == 4 and "removed or inserted" in check.problem


def test_audit_verify_cli_exit_codes(store, capsys):
    audit.record_event(store, "test.event", "x")
    assert main(["audit", "verify"]) == 0
    assert "intact: 1 entries" in capsys.readouterr().out
    with store.connect() as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at entry 1" in capsys.readouterr().err


def test_csv_export_neutralises_formulas(store):
    audit.record_event(store, "test.event", "=HYPERLINK(\"http://evil\")", actor="@bob")
    text = audit.export(store, "csv")
    assert "'=HYPERLINK" in text and "'@bob" in text


def test_local_accounts_and_sign_in(store):
    users.add_user(store, "pat", ["participant"], "correct horse battery", pipelines=["pds"])
    principal = users.authenticate(store, "pat", "correct horse battery")
    assert principal.roles == {"participant"} and principal.pipelines == {"pds"}
    with pytest.raises(users.SignInFailed, match="Wrong username or password"):
        users.authenticate(store, "pat", "wrong password!")
    with pytest.raises(users.SignInFailed, match="Wrong username or password"):
        users.authenticate(store, "nobody", "whatever password")
    with store.connect() as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE username = 'pat'").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    actions = [e.action for e in audit.entries(store)]
    assert actions == ["user.add", "sign_in", "sign_in.failed", "sign_in.failed"]


def test_repeated_failures_are_throttled(store):
    users.add_user(store, "pat", ["viewer"], "correct horse battery")
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(users.SignInFailed, match="Wrong"):
            users.authenticate(store, "pat", "nope nope nope")
    with pytest.raises(users.SignInFailed, match="Too many failed attempts"):
        users.authenticate(store, "pat", "correct horse battery")


def test_account_validation_and_permissions(store):
    with pytest.raises(users.ValidationFailed) as caught:
        users.add_user(store, "bad name!", ["wizard"], "short")
    assert len(caught.value.problems) == 3
    with acting_as(OPERATOR):
        with pytest.raises(PermissionDenied):
            users.add_user(store, "eve", ["admin"], "long enough password")


def test_kiosk_tokens(store):
    token = users.create_kiosk_token(store, "lobby wall")
    principal = users.kiosk_principal(store, token)
    assert principal.roles == {"viewer"} and principal.auth_method == "kiosk"
    assert users.revoke_kiosk_tokens(store, "lobby wall") == 1
    with pytest.raises(users.SignInFailed, match="not valid"):
        users.kiosk_principal(store, token)
    with store.connect() as conn:
        assert token not in str(conn.execute("SELECT * FROM kiosk_tokens").fetchall())


def test_users_cli(store, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "ana", "--role", "operator", "--role", "red_team", "--password-stdin"]) == 0
    assert main(["users", "add", "ops@example.org", "--role", "viewer", "--oidc"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "ana" in out and "operator,red_team" in out and "oidc" in out
    assert main(["users", "remove", "ana"]) == 0
    assert main(["users", "remove", "ana"]) == 2
    capsys.readouterr()
    assert main(["users", "kiosk-token", "lobby wall"]) == 0
    token = capsys.readouterr().out.split("(shown once): ")[1].split()[0]
    assert users.kiosk_principal(store, token).auth_method == "kiosk"
    assert main(["users", "kiosk-token", "lobby wall", "--revoke"]) == 0
    with pytest.raises(users.SignInFailed, match="revoked"):
        users.kiosk_principal(store, token)
    assert main(["users", "kiosk-token", "lobby wall", "--revoke"]) == 1


def test_serve_refuses_a_shared_address_without_sign_in(secmlops_home, capsys):
    assert main(["serve", "--address", "0.0.0.0"]) == 2
    assert "sign-in is off" in capsys.readouterr().err


def test_auth_mode_is_validated(tmp_path):
    from secmlops_core.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="auth_mode"):
        load_settings({"SECMLOPS_HOME": str(tmp_path), "SECMLOPS_AUTH_MODE": "maybe"})


def test_oidc_sign_in_has_what_st_login_needs():
    from streamlit.auth_util import is_authlib_installed

    assert is_authlib_installed(), "st.login needs Authlib >= 1.3.2 (pinned in requirements.txt)"
