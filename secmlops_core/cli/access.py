"""`secmlops users ...` and `secmlops audit ...`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from secmlops_core.access import audit, users
from secmlops_core.access.policy import role_ids
from secmlops_core.cli import common
from secmlops_core.cli.common import add_command, command_group
from secmlops_core.errors import UserFacingError


def _read_password(args) -> str | None:
    if args.oidc:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise UserFacingError("the two passwords differ")
    return first


def _users_add(args) -> int:
    account = users.add_user(common.store(), args.username, args.role, _read_password(args),
                             display_name=args.display_name or "", pipelines=args.pipeline or None)
    scope = ", ".join(account.pipelines) if account.pipelines else "all pipelines"
    print(f"added {account.username} ({', '.join(account.roles)}; {scope})")
    return 0


def _users_remove(args) -> int:
    users.remove_user(common.store(), args.username)
    print(f"removed {args.username}")
    return 0


def _users_list(args) -> int:
    accounts = users.list_users(common.store())
    if not accounts:
        print("no accounts")
    for account in accounts:
        scope = ",".join(account.pipelines) if account.pipelines else "*"
        kind = "password" if account.has_password else "oidc"
        print(f"{account.username:<32} {','.join(account.roles):<28} pipelines={scope:<20} {kind}"
              f"{' disabled' if account.disabled else ''}")
    return 0


def _users_unlock(args) -> int:
    count = users.clear_sign_in_failures(common.store(), args.username, args.source)
    where = f" from {args.source}" if args.source is not None else ""
    print(f"cleared {count} failed sign-in(s) of {args.username}{where}")
    return 0


def _kiosk_token(args) -> int:
    if args.revoke:
        count = users.revoke_kiosk_tokens(common.store(), args.label)
        print(f"revoked {count} kiosk token(s) labelled {args.label!r}")
        return 0 if count else 1
    token = users.create_kiosk_token(common.store(), args.label)
    print(f"kiosk token for {args.label!r} (shown once): {token}")
    print(f"wall URL: http://HOST:PORT/ops_wall?embed=true&kiosk={token}")
    return 0


def _audit_verify(args) -> int:
    check = audit.verify_chain(common.store())
    if check.ok:
        print(f"audit trail intact: {check.entries} entries")
        return 0
    print(f"audit trail BROKEN at entry {check.first_bad_seq}: {check.problem}", file=sys.stderr)
    return 1


def _audit_export(args) -> int:
    text = audit.export(common.store(), args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def register(subparsers) -> None:
    """Add the `users` and `audit` command groups."""
    commands = command_group(subparsers, "users", "manage local accounts and kiosk tokens", dest="users_command",
                             metavar="SUBCOMMAND", required=True)
    add = add_command(commands, "add", "add an account", _users_add)
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True, choices=role_ids(),
                     help="access role; repeat for several")
    add.add_argument("--pipeline", action="append", help="limit editing to this pipeline id; repeat for several")
    add.add_argument("--display-name")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    secret.add_argument("--oidc", action="store_true", help="an OIDC user (username = e-mail), no password")
    add_command(commands, "remove", "remove an account", _users_remove).add_argument("username")
    add_command(commands, "list", "list accounts", _users_list)
    unlock = add_command(commands, "unlock", "clear an account's failed sign-ins so it may sign in again",
                         _users_unlock)
    unlock.add_argument("username")
    unlock.add_argument("--source", help="only the failures from this client address")
    kiosk = add_command(commands, "kiosk-token", "create (or --revoke) a read-only token for a wall screen",
                        _kiosk_token)
    kiosk.add_argument("label")
    kiosk.add_argument("--revoke", action="store_true", help="revoke every token with this label (exit 1 if none)")

    audit_commands = command_group(subparsers, "audit", "verify and export the audit trail", dest="audit_command",
                                   metavar="SUBCOMMAND", required=True)
    add_command(audit_commands, "verify", "check the hash chain (exit 1 when broken)", _audit_verify)
    export = add_command(audit_commands, "export", "write the trail as JSON or CSV", _audit_export)
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output")
