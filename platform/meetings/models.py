"""Reference data of a county: townships, villages, rosters.

These are the county's directory, edited by the organization department (in
the admin or by import). They are not events: the meeting log records what
happened at meetings, and each event carries the names it needs, so editing a
roster later never changes the meaning of a recorded meeting.

Bodies and officials are not here: they last across rounds and have a
history (posts over time), so they are the registry's events
(meetings.registry), read from the registry projection.
"""

from __future__ import annotations

from django.db import models


class Township(models.Model):
    """乡镇 / 街道."""

    class Kind(models.TextChoices):
        TOWNSHIP = "township", "乡镇 / township"
        SUBDISTRICT = "subdistrict", "街道 / subdistrict"

    name = models.CharField("名称 / name", max_length=50, unique=True)
    kind = models.CharField("类型 / kind", max_length=20, choices=Kind.choices, default=Kind.TOWNSHIP)

    class Meta:
        verbose_name = "乡镇 / township"
        verbose_name_plural = "乡镇 / townships"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    """村 / 社区."""

    class Kind(models.TextChoices):
        VILLAGE = "village", "村 / village"
        COMMUNITY = "community", "社区 / community"

    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="villages", verbose_name="乡镇 / township")
    name = models.CharField("名称 / name", max_length=50)
    kind = models.CharField("类型 / kind", max_length=20, choices=Kind.choices, default=Kind.VILLAGE)

    class Meta:
        verbose_name = "村社区 / village"
        verbose_name_plural = "村社区 / villages"
        ordering = ["township__name", "name"]
        constraints = [models.UniqueConstraint(fields=["township", "name"], name="village_unique_in_township")]

    def __str__(self) -> str:
        return f"{self.township.name}{self.name}"


class VoterCategory(models.TextChoices):
    PARTY_MEMBER = "party_member", "党员 / Party member"
    REPRESENTATIVE = "representative", "村民代表 / village representative"
    GUEST = "guest", "列席 / invited guest"


class GuestKind(models.TextChoices):
    """Who an invited guest (列席) is there for; seed 003 lists these five."""

    MASS_ORGANIZATION = "mass_organization", "群团组织 / mass organization"
    ENTERPRISE = "enterprise", "驻村企业 / enterprise in the village"
    POVERTY_TEAM = "poverty_team", "扶贫工作队 / poverty-alleviation work team"
    PAIRED_DEPARTMENT = "paired_department", "结对部门 / paired department"
    DEPUTY = "deputy", "两代表一委员 / deputy or CPPCC member"


class Gender(models.TextChoices):
    MALE = "male", "男 / male"
    FEMALE = "female", "女 / female"


class RosterMember(models.Model):
    """One person on a village's roster: a Party member, a representative or an invited guest.

    `guest_kind` is set for guests only. `id_suffix` (the last four characters
    of the ID card number) tells apart two people of the same name in the
    same village and category; it is unique there when given.
    """

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="roster", verbose_name="村社区 / village")
    name = models.CharField("姓名 / name", max_length=50)
    category = models.CharField("身份类别 / category", max_length=20, choices=VoterCategory.choices)
    guest_kind = models.CharField(
        "列席类别 / guest kind", max_length=30, choices=GuestKind.choices, blank=True, help_text="仅列席人员填写 / guests only"
    )
    affiliation = models.CharField("单位 / affiliation", max_length=80, blank=True, help_text="列席人员所在单位 / guest's organization")
    gender = models.CharField("性别 / gender", max_length=10, choices=Gender.choices, blank=True)
    phone = models.CharField("电话 / phone", max_length=20, blank=True)
    id_suffix = models.CharField(
        "证件号后四位 / ID number, last four", max_length=4, blank=True, help_text="用于区分同名人员 / tells apart namesakes"
    )

    class Meta:
        verbose_name = "花名册成员 / roster member"
        verbose_name_plural = "花名册 / roster"
        ordering = ["village__name", "category", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["village", "category", "name", "id_suffix"],
                condition=~models.Q(id_suffix=""),
                name="roster_member_unique_with_id_suffix",
            ),
            models.CheckConstraint(
                condition=models.Q(guest_kind="") | models.Q(category="guest"),
                name="roster_member_guest_kind_for_guests_only",
            ),
        ]
        indexes = [models.Index(fields=["village", "category", "name"], name="roster_member_lookup")]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_category_display()}）"
