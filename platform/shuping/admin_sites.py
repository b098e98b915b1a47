"""Two admin sites: the operator's (public host) and each county's.

They are separate sites rather than one site with permission checks, so a
county page can never list counties and the operator's site never lists
county data: the models are simply not registered there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.logins import AdminLoginForm
from accounts.models import User
from accounts.roles import Role, may
from common.county import current_schema
from meetings import models as ref
from tenants.models import County, Domain


class OperatorSite(admin.AdminSite):
    site_header = "述评平台运营 / Shuping platform operations"
    site_title = "述评平台运营"
    index_title = "县区管理 / Counties"
    login_form = AdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            current_schema() == "public"
            and bool(user.is_active and user.is_staff)
            and getattr(user, "role", None) == Role.OPERATOR
        )


def _county_admin(user: Any) -> bool:
    """Whether the user may use the county's admin site: by the one role policy, never by Django's flags.

    A county account is never a superuser and holds no Django permissions: what
    it may do here is what accounts.roles says its role may do.
    """
    return bool(
        current_schema() != "public" and user.is_active and may(str(getattr(user, "role", "")), "page:county_admin_site")
    )


class CountyLoginForm(AdminLoginForm):
    def confirm_login_allowed(self, user: Any) -> None:
        # Not Django's is_staff test: the role decides (AdminAuthenticationForm would refuse non-staff).
        if not user.is_active or not _county_admin(user):
            raise forms.ValidationError(
                "只有县委组织部管理员可以登录县区管理后台 / only county administrators may log in here",
                code="invalid_login",
            )


class CountySite(admin.AdminSite):
    site_header = "述评 · 县区管理 / Shuping county administration"
    site_title = "述评县区管理"
    index_title = "基础数据 / Reference data"
    login_form = CountyLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        return _county_admin(request.user)

    def each_context(self, request: HttpRequest) -> dict[str, object]:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            context["site_header"] = f"{tenant.name} · 述评管理 / Shuping"
        return context


operator_site = OperatorSite(name="operator_admin")
county_site = CountySite(name="county_admin")


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


@admin.register(County, site=operator_site)
class CountyAdmin(admin.ModelAdmin):
    list_display = ("name", "schema_name", "created_at")
    search_fields = ("name", "schema_name")
    inlines = [DomainInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # The schema name is fixed once the schema exists.
        return ("schema_name",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Domain, site=operator_site)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")


class ShupingUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("述评 / Shuping", {"fields": ("display_name", "role")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("述评 / Shuping", {"fields": ("display_name", "role")}),
    )


class OperatorUserAdmin(ShupingUserAdmin):
    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).filter(role=Role.OPERATOR)


class _ByPolicy:
    """Permissions on the county site: the role policy decides, not Django's per-model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _county_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _county_admin(request.user)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return _county_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _county_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _county_admin(request.user)


class CountyModelAdmin(_ByPolicy, admin.ModelAdmin):
    pass


class CountyUserAdmin(_ByPolicy, UserAdmin):
    """Accounts of a county: a name, a display name and a first password; nothing that grants power.

    Roles are granted on /staff/ (staff.actions: an event, confirmed by a
    second person for privileged roles); superuser, staff, groups and
    permissions are not offered at all (a county account has none), and the
    password of an account that holds a role can be changed only by its owner:
    otherwise one administrator could take over a teller's account and enter
    both copies of a paper batch.
    """

    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("述评 / Shuping", {"fields": ("display_name", "first_name", "last_name", "email")}),
        ("角色与状态 / role and state (在“工作人员”页面变更 / changed on the staff page)",
         {"fields": ("role", "is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "display_name", "password1", "password2")}),)
    readonly_fields = ("role", "is_active", "last_login", "date_joined")
    filter_horizontal = ()

    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:  # UserAdmin's add form, with only the fields above
            kwargs["fields"] = ("username", "display_name")
        return super().get_form(request, obj, change=change, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts are deactivated on /staff/, which the log records

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        target = self.get_object(request, id)
        if target is not None and target.role and target.pk != getattr(request.user, "pk", None):
            raise PermissionDenied("该账号持有角色，只有本人可以修改其密码 / only its owner may change this password")
        return super().user_change_password(request, id, form_url)


operator_site.register(User, OperatorUserAdmin)
county_site.register(User, CountyUserAdmin)


class VillageInline(_ByPolicy, admin.TabularInline):
    model = ref.Village
    extra = 0


@admin.register(ref.Township, site=county_site)
class TownshipAdmin(CountyModelAdmin):
    list_display = ("name", "kind")
    search_fields = ("name",)
    inlines = [VillageInline]


@admin.register(ref.Village, site=county_site)
class VillageAdmin(CountyModelAdmin):
    list_display = ("name", "township", "kind")
    list_filter = ("township",)
    search_fields = ("name",)


@admin.register(ref.RosterMember, site=county_site)
class RosterMemberAdmin(CountyModelAdmin):
    list_display = ("name", "category", "guest_kind", "village", "affiliation", "gender", "id_suffix")
    list_filter = ("category", "guest_kind", "village__township")
    search_fields = ("name", "affiliation")
