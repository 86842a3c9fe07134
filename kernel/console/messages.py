"""What a refusal of a service means, in the page's language.

Services raise errors with a stable code and an English message naming the specifics. The console
shows a translated sentence for each code it knows (the message ids below are in the catalogues)
and, for those it does not, the service's own message — never nothing.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from nentang.kernel.console.forms import FieldError
from nentang.kernel.console.i18n import N_, locale_of
from nentang.kernel.console.pages import console_of
from nentang.kernel.http.errors import status_for
from nentang.sdk.errors import NentangError, TenantCodeTaken, TenantRuleViolated, ValidationFailed

#: Service error code → the sentence shown (translated) in its place.
BY_CODE: Final = {
    "tenant.code_taken": N_("A unit with this code already exists, so nothing was created."),
    "tenant.rule_violated": N_("This kind of unit cannot be placed here."),
    "tenant.not_found": N_("There is no such unit."),
    "user.taken": N_("This username is taken, so nothing was created."),
    "user.unavailable": N_("This username is not available; choose another."),
    "user.unchanged": N_("The person is already in that state; nothing changed."),
    "authz.grant_exists": N_("The person already holds this role at this unit."),
    "authz.unknown_role": N_("There is no such role at this unit."),
    "authz.role_exists": N_("This unit already has a role of that name, so nothing was created."),
    "token.name_taken": N_("This unit already has a token of that name, so nothing was created."),
    "plugin.already_enabled": N_("The plugin is already enabled here; nothing changed."),
    "plugin.not_enabled": N_("The plugin is not enabled here; nothing changed."),
    "plugin.not_allowed": N_("A unit above does not allow this plugin here, so it was not enabled."),
    "plugin.locked": N_("A unit above has locked this plugin on here, so it cannot be disabled."),
    "plugin.level": N_("This plugin is not for this level of unit, so it was not enabled."),
    "plugin.not_approved": N_("This plugin is not approved (or changed since), so it was not enabled."),
    "plugin.quarantined": N_("This plugin is quarantined, so it was not enabled."),
    "plugin.missing_dependency": N_("This plugin needs other plugins enabled here first; nothing changed."),
    "plugin.has_dependents": N_("Other plugins enabled here need this one, so it was not disabled."),
    "plugin.enabled_below": N_("The plugin is enabled in units below; nothing changed."),
    "plugin.settings": N_("Its settings are missing or not valid: open its settings, fill them in and save."),
}
#: User service error code → the field of the new-person form it concerns.
USER_FIELDS: Final = {
    "user.bad_username": ("username", N_("Enter a username of 3 to 64 characters: a-z, 0-9, '.', '_' or '-'")),
    "user.taken": ("username", None),
    "user.unavailable": ("username", None),
    "user.bad_display_name": ("display_name", N_("Enter a name of 1 to 255 characters")),
    "user.bad_email": ("email", N_("Enter an e-mail address like name@example.gov.vn")),
}
#: For a ValidationFailed of the tenant service: the start of its message → (field, sentence).
VALIDATION_FIELDS: Final = (
    (
        "tenant code",
        "code",
        N_("Enter a code of 1 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit"),
    ),
    ("tenant name", "name", N_("Enter a name of 1 to 255 characters")),
    ("unknown tenant kind", "kind", N_("Choose a kind of unit from the list")),
    ("division type", "division_type", N_("Enter a division type of at most 64 characters")),
)
STATUS_ALREADY: Final = N_("The unit is already in that state; nothing changed.")
DAYS_NOT_A_NUMBER: Final = N_("Enter the lifetime as a number of days")


def text(request: Request, message: str) -> str:
    """``message`` (marked with ``N_``) in the page's language."""
    return _gettext(request, message)


def _gettext(request: Request, message: str) -> str:
    return console_of(request).catalogues.get(locale_of(request)).gettext(message)


def translated(request: Request, error: NentangError) -> str:
    if isinstance(error, TenantRuleViolated) and "already" in error.message:
        return _gettext(request, STATUS_ALREADY)
    known = BY_CODE.get(error.code)
    return _gettext(request, known) if known is not None else error.message


def unit_field_error(request: Request, error: NentangError, code: str) -> FieldError:
    """The provisioning form's error for ``error``, on the field it concerns."""
    if isinstance(error, TenantCodeTaken):
        return FieldError("code", translated(request, error))
    if isinstance(error, TenantRuleViolated):  # a ValidationFailed too: checked first
        return FieldError("kind", translated(request, error))
    if isinstance(error, ValidationFailed):
        for start, field, sentence in VALIDATION_FIELDS:
            if error.message.startswith(start):
                return FieldError(field, _gettext(request, sentence))
        return FieldError("", error.message)
    return FieldError("", translated(request, error))


def user_field_error(request: Request, error: NentangError) -> FieldError:
    """The new-person form's error for ``error``, on the field it concerns."""
    field, sentence = USER_FIELDS.get(error.code, ("", None))
    return FieldError(field, _gettext(request, sentence) if sentence else translated(request, error))


def unit_not_here(request: Request, code: str) -> str:
    return _gettext(request, N_("There is no unit with the code %(code)s here.")) % {"code": code}


def status_of(error: NentangError) -> int:
    return status_for(error) if status_for(error) != 500 else 400
