from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.addresses import validate_header_name
from core.models import TimeStampedModel
from core.names import person_name


class Organization(TimeStampedModel):
    """A tenant: nobody ever sees another organization's data."""

    name = models.CharField(max_length=200, verbose_name=_("name"))
    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    is_legacy = models.BooleanField(
        default=False,
        help_text="Legacy customers may send through the platform's own (MSC legacy) servers.",
        verbose_name=_("is legacy"),
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="Analytics days and date ranges use this zone.",
        verbose_name=_("timezone"),
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text="The default language of its people's pages; blank: each browser's language.",
        verbose_name=_("language"),
    )

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(TimeStampedModel):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="teams", verbose_name=_("organization")
    )
    name = models.CharField(max_length=200, verbose_name=_("name"))
    manager = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
        verbose_name=_("manager"),
    )
    send_rate_emails = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Team rate: at most this many emails per mailbox…",
        verbose_name=_("send rate emails"),
    )
    send_rate_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="…every this many seconds. Provider limits still apply.",
        verbose_name=_("send rate seconds"),
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="team_name_unique_per_org"
            ),
            models.CheckConstraint(
                condition=(
                    Q(send_rate_emails__isnull=True, send_rate_seconds__isnull=True)
                    | Q(send_rate_emails__gt=0, send_rate_seconds__gt=0)
                ),
                name="team_rate_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", User.Role.ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A Mailroom user; logs in with their email address."""

    class Role(models.TextChoices):
        REP = "rep", _("Sales rep")
        MANAGER = "manager", _("Sales manager")
        ADMIN = "admin", _("Admin")

    username = None
    email = models.EmailField("email address", unique=True)
    # Names go into the From line of every email the user sends: no line breaks or controls.
    first_name = models.CharField(
        "first name", max_length=150, blank=True, validators=[validate_header_name]
    )
    last_name = models.CharField(
        "last name", max_length=150, blank=True, validators=[validate_header_name]
    )
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("organization"),
    )
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("team"),
    )
    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.REP, verbose_name=_("role")
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text="The language of this user's pages; blank: the organization's default.",
        verbose_name=_("language"),
    )
    signature = models.TextField(
        blank=True,
        max_length=2000,
        help_text="Plain text added under every email this user sends from Mailroom.",
        verbose_name=_("signature"),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["rep", "manager", "admin"]), name="user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        # 김민준, not Django's "민준 김" (core.names).
        return person_name(self.first_name, self.last_name)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    @property
    def is_rep(self) -> bool:
        return self.role == self.Role.REP

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER

    @property
    def is_org_admin(self) -> bool:
        return self.role == self.Role.ADMIN
