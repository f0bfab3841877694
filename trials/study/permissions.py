"""Who may do what where: roles held at a trial's site, checked by every write service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from trials.participants.models import Participant
from trials.study.models import Membership, Role

if TYPE_CHECKING:
    from trials.study.models import AnyUser


def has_site_role(user: AnyUser, *, trial_id: int, site_id: int, roles: tuple[Role, ...]) -> bool:
    """True if the user holds one of the roles at this trial site."""
    if not user.is_authenticated:
        return False
    return Membership.objects.filter(
        user=user, trial_id=trial_id, site_id=site_id, role__in=roles
    ).exists()


def require_site_role(
    user: AnyUser, *, trial_id: int, site_id: int, roles: tuple[Role, ...]
) -> None:
    """Refuse (403) a user who sees the records but lacks the role for this action."""
    if not has_site_role(user, trial_id=trial_id, site_id=site_id, roles=roles):
        names = " or ".join(str(role.label).lower() for role in roles)
        raise PermissionDenied(f"Only a {names} at this site may do this.")


def may_see_identity(user: AnyUser, participant: Participant) -> bool:
    """True if the user may see who the participant is (name, contact details)."""
    return Participant.objects.with_identity_visible_to(user).filter(pk=participant.pk).exists()


def roles_at(user: AnyUser, *, trial_id: int, site_id: int) -> frozenset[str]:
    """Every role the user holds at this trial site, trial-wide roles included (one query)."""
    if not user.is_authenticated:
        return frozenset()
    return frozenset(
        Membership.objects.filter(user=user, trial_id=trial_id)
        .filter(Q(site_id=site_id) | Q(site__isnull=True))
        .values_list("role", flat=True)
    )


def may_see_arm(roles: frozenset[str], participant: Participant, *, unblinded: bool) -> bool:
    """Arms stay concealed from the site team; monitors and sponsors see them in open-label
    trials; the site's investigators see one after an emergency unblinding."""
    if unblinded and Role.INVESTIGATOR in roles:
        return True
    return participant.trial.open_label and bool(roles & {Role.MONITOR, Role.SPONSOR})


def ensure_site_role(
    user: AnyUser, participant: Participant, roles: tuple[Role, ...], message: str
) -> None:
    """Refuse a service call (ValidationError) by someone without the role at the site."""
    if not has_site_role(
        user, trial_id=participant.trial_id, site_id=participant.site_id, roles=roles
    ):
        raise ValidationError(message)
