"""Who may do what where: roles held at a trial's site, checked by every write service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from trials.participants.models import Participant
from trials.study.models import Membership, Role, TrialSite

if TYPE_CHECKING:
    from trials.study.models import AnyUser


def has_site_role(user: AnyUser, *, trial_id: int, site_id: int, roles: tuple[Role, ...]) -> bool:
    """True if the user holds one of the roles at this trial site (a trial-wide one counts)."""
    if not user.is_authenticated:
        return False
    return (
        Membership.objects.filter(user=user, trial_id=trial_id, role__in=roles)
        .filter(Q(site_id=site_id) | Q(site__isnull=True))
        .exists()
    )


def require_role(user: AnyUser, at: Participant | TrialSite, *, roles: tuple[Role, ...]) -> None:
    """Refuse (PermissionDenied: a 403 in a view) a user without one of the roles at the
    participant's (or this) trial site.

    Every write service calls it in its transaction, before writing; views call it too, so that
    a form the user may not send is refused before it is shown.
    """
    if not has_site_role(user, trial_id=at.trial_id, site_id=at.site_id, roles=roles):
        raise PermissionDenied(f"Only {_one_of(roles)} at this site may do this.")


def _one_of(roles: tuple[Role, ...]) -> str:
    names = " or ".join(str(role.label).lower() for role in roles)
    return f"an {names}" if names[0] in "aeiou" else f"a {names}"


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
