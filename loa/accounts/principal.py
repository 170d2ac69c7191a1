"""Who is asking: the user, their role in each commune, and where the request came from.

Every service takes a Principal and scopes its queries with it. Objects of a commune the principal does not
belong to are reported as not found (404), never as forbidden, so their existence does not leak."""
from __future__ import annotations

from dataclasses import dataclass, field

from loa.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class CommuneRole:
    role: str
    village_id: int | None = None


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    username: str
    is_admin: bool = False
    memberships: dict[int, CommuneRole] = field(default_factory=dict)
    ip: str | None = None
    via: str = "bearer"  # session | bearer | cli | system
    # A one-time password from an admin's reset: nothing but choosing a new password (and logging out) is allowed.
    must_change_password: bool = False
    token_id: int | None = None  # the session or token this request came with (to keep it when others end)

    def role_in(self, commune_id: int) -> str | None:
        member = self.memberships.get(commune_id)
        return member.role if member else None

    def village_in(self, commune_id: int) -> int | None:
        member = self.memberships.get(commune_id)
        return member.village_id if member else None

    def visible_communes(self) -> list[int] | None:
        """Commune ids this principal may read; None means all (the system admin)."""
        return None if self.is_admin else sorted(self.memberships)

    def sees_commune(self, commune_id: int) -> bool:
        return self.is_admin or commune_id in self.memberships

    def require_commune(self, commune_id: int, what_vi: str = "xã", what_en: str = "Commune") -> None:
        if not self.sees_commune(commune_id):
            raise NotFound("not_found", f"Không tìm thấy {what_vi}", f"{what_en} not found")

    def require_role(self, commune_id: int, *roles: str, admin: bool = False) -> str:
        """The caller's role in the commune if it is one of `roles` (or the caller is admin and admin=True).

        Not a member at all → 404 (no leak); a member with the wrong role → 403."""
        if admin and self.is_admin:
            return "admin"
        self.require_commune(commune_id)
        role = self.role_in(commune_id)
        if role not in roles:
            raise PermissionDenied(
                "forbidden_role",
                "Vai trò của bạn không được phép làm việc này",
                "Your role does not allow this action",
                required_roles=list(roles),
            )
        return role  # type: ignore[return-value]

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied(
                "admin_required", "Chỉ quản trị hệ thống được làm việc này", "Only a system admin can do this"
            )


SYSTEM = Principal(user_id=None, username="system", is_admin=True, via="system")
