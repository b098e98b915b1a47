"""A city or province (地市/省) and the counties it oversees. These rows live in the public schema.

A region holds no county data: its standings are read, county by county, from
each county's aggregate figures (regions.figures) at the time they are asked for.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.models import County


class Region(models.Model):
    class Kind(models.TextChoices):
        CITY = "city", "地市 / city"
        PROVINCE = "province", "省 / province"

    name = models.CharField("名称 / name", max_length=100, unique=True)  # type: ignore[var-annotated]
    kind = models.CharField("层级 / kind", max_length=10, choices=Kind.choices)  # type: ignore[var-annotated]
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,  # type: ignore[var-annotated]
                               related_name="children", verbose_name="上级 / parent")
    counties = models.ManyToManyField(County, blank=True, related_name="regions",  # type: ignore[var-annotated]
                                      verbose_name="所辖县区 / counties")
    # The accounts (role region_viewer, public schema) of its organization department.
    viewers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="regions",  # type: ignore[var-annotated]
                                     verbose_name="查看账号 / viewers")

    class Meta:
        verbose_name = "地市/省 / region"
        verbose_name_plural = "地市/省 / regions"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def all_counties(self) -> list[County]:
        """Its own counties and those of the regions under it (a province over its cities), by slug."""
        seen: dict[int, County] = {}
        todo: list[Region] = [self]
        visited: set[int] = set()
        while todo:
            region = todo.pop()
            if region.pk in visited:
                continue
            visited.add(region.pk)
            seen.update({county.pk: county for county in region.counties.all()})
            todo.extend(region.children.all())
        return sorted(seen.values(), key=lambda county: county.schema_name)
