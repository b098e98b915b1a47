"""Two admin sites: the operator's (public host) and each county's.

They are separate sites rather than one site with permission checks, so a
county page can never list counties and the operator's site never lists
county data: the models are simply not registered there.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from accounts.models import User
from accounts.roles import COUNTY_ROLES, Role
from common.county import current_schema
from meetings import models as ref
from tenants.models import County, Domain


class OperatorSite(admin.AdminSite):
    site_header = "述评平台运营 / Shuping platform operations"
    site_title = "述评平台运营"
    index_title = "县区管理 / Counties"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            current_schema() == "public"
            and bool(user.is_active and user.is_staff)
            and getattr(user, "role", None) == Role.OPERATOR
        )


class CountySite(admin.AdminSite):
    site_header = "述评 · 县区管理 / Shuping county administration"
    site_title = "述评县区管理"
    index_title = "基础数据 / Reference data"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            current_schema() != "public"
            and bool(user.is_active and user.is_staff)
            and getattr(user, "role", None) in COUNTY_ROLES
        )

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


operator_site.register(User, OperatorUserAdmin)
county_site.register(User, ShupingUserAdmin)


class VillageInline(admin.TabularInline):
    model = ref.Village
    extra = 0


@admin.register(ref.Township, site=county_site)
class TownshipAdmin(admin.ModelAdmin):
    list_display = ("name", "kind")
    search_fields = ("name",)
    inlines = [VillageInline]


@admin.register(ref.Village, site=county_site)
class VillageAdmin(admin.ModelAdmin):
    list_display = ("name", "township", "kind")
    list_filter = ("township",)
    search_fields = ("name",)


@admin.register(ref.RosterMember, site=county_site)
class RosterMemberAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "guest_kind", "village", "affiliation", "gender", "id_suffix")
    list_filter = ("category", "guest_kind", "village__township")
    search_fields = ("name", "affiliation")
