"""What ``nentang db upgrade`` checks before it migrates, so that it refuses up front, with the fix.

On PostgreSQL the migrations create tables in ``public``, create (or reuse) the app role that the
grants and row-level security policies name, and grant it to the migration user. Each of those
fails half-way through the first migration when the migration user lacks a right; the upgrade's
transaction then rolls back, but the operator reads a driver error. Checked here first instead:

- the migration user can create tables in schema ``public``;
- the app role exists, or the migration user may create it (``CREATEROLE``);
- when the app role exists before the kernel's first migration, the migration user holds it
  ``WITH ADMIN OPTION`` (PostgreSQL 16 needs that for the migration's ``GRANT … TO CURRENT_USER``);
- the app role, and the login role of ``NENTANG_APP_DATABASE_URL`` if it exists already, do not
  bypass row-level security (superuser or ``BYPASSRLS`` would switch it off for every request),
  and that login role is a member of the app role.

SQLite has no roles: nothing to check there.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from nentang.kernel.data.engines import check_role_name
from nentang.kernel.settings import Settings
from nentang.sdk.errors import NentangError

CODE = "db.prerequisite_missing"


def check_prerequisites(connection: Connection, settings: Settings, *, base_pending: bool) -> None:
    """Raise :class:`NentangError` (``db.prerequisite_missing``) naming the first unmet prerequisite.

    ``base_pending``: the kernel's first migration (which creates and grants the app role) is to run.
    """
    if connection.dialect.name != "postgresql":
        return
    role = settings.app_role
    check_role_name(role)
    me = connection.execute(
        text("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    ).one()
    if not connection.scalar(text("SELECT has_schema_privilege('public', 'CREATE')")):
        _refuse(
            f"the migration user {me.current_user!r} cannot create tables in schema public: make it the "
            "database's owner (CREATE DATABASE … OWNER it; on PostgreSQL 15+ the owner owns public) or "
            f'GRANT CREATE ON SCHEMA public TO "{me.current_user}"'
        )
    app = connection.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).one_or_none()
    if app is None:
        if not (me.rolsuper or me.rolcreaterole):
            _refuse(
                f"the app role {role!r} (NENTANG_APP_ROLE) does not exist and the migration user "
                f"{me.current_user!r} may not create it: give it CREATEROLE "
                f'(ALTER ROLE "{me.current_user}" CREATEROLE), or have a DBA run '
                f'CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS; GRANT "{role}" TO "{me.current_user}" WITH ADMIN OPTION'
            )
        return
    if app.rolsuper or app.rolbypassrls:
        _refuse(
            f"the app role {role!r} bypasses row-level security (superuser or BYPASSRLS), so tenants "
            f'would not be isolated: ALTER ROLE "{role}" NOSUPERUSER NOBYPASSRLS, or name another role'
        )
    if base_pending and not me.rolsuper and not _admin_of(connection, role):
        _refuse(
            f"the app role {role!r} exists but the migration user {me.current_user!r} does not hold it "
            f'WITH ADMIN OPTION, which the first migration needs: GRANT "{role}" TO "{me.current_user}" '
            "WITH ADMIN OPTION (as the role's creator or a superuser)"
        )
    _check_login_role(connection, settings, role)


def _admin_of(connection: Connection, role: str) -> bool:
    return bool(connection.scalar(text("SELECT pg_has_role(:role, 'MEMBER WITH ADMIN OPTION')"), {"role": role}))


def _check_login_role(connection: Connection, settings: Settings, role: str) -> None:
    """The login of ``NENTANG_APP_DATABASE_URL``, when it exists (it is created after the first upgrade)."""
    if not settings.app_database_url:
        return
    login = make_url(settings.app_database_url).username
    if not login:
        return
    found = connection.execute(
        text(
            "SELECT rolsuper, rolbypassrls, pg_has_role(rolname, :role, 'MEMBER') AS member "
            "FROM pg_roles WHERE rolname = :login"
        ),
        {"login": login, "role": role},
    ).one_or_none()
    if found is None:
        return
    if found.rolsuper or found.rolbypassrls:
        _refuse(
            f"NENTANG_APP_DATABASE_URL logs in as {login!r}, which bypasses row-level security (superuser or "
            f'BYPASSRLS): ALTER ROLE "{login}" NOSUPERUSER NOBYPASSRLS'
        )
    if not found.member:
        _refuse(
            f"NENTANG_APP_DATABASE_URL logs in as {login!r}, which is not a member of the app role {role!r}: "
            f'GRANT "{role}" TO "{login}"'
        )


def _refuse(message: str) -> None:
    raise NentangError(f"db upgrade refused, nothing was migrated: {message}", code=CODE)
