"""Every tunable, read from the environment and `.env`. `.env.example` lists them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.catalog import MODELS
from bot.domain.detections import CLASSES, DEFAULT_CLASSES
from bot.domain.errors import StoreUnavailable
from bot.domain.quota import Member

MiB = 2**20
S = TypeVar("S", bound="FileSettings")

# The secrets' values in .env.example: a copied file left unedited must stop the bot at start, naming
# the line to fill in, not fail at Discord's login or, worse, at a member's first image.
PLACEHOLDERS = {
    "discord_token": ("paste-your-bot-token-here", "the bot's token (Developer Portal > Bot > Reset Token)"),
    "pixazo_api_key": ("paste-your-pixazo-subscription-key-here", "your Pixazo subscription key"),
}


class FileSettings(BaseSettings):
    """Where the bot keeps its files: all that `python -m bot --health` needs, so it needs no secret."""

    # env_ignore_empty: `NAME=` (as docker --env-file passes it) means the default, for every setting.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False, hide_input_in_errors=True, env_ignore_empty=True)

    # Relative to where the bot starts: ./data from a clone; the Docker image sets DATA_DIR=/data.
    data_dir: Path = Path("./data")
    # The running bot rewrites DATA_DIR/heartbeat.json this often; --health calls it stale after 3 missed.
    heartbeat_interval_seconds: float = Field(30.0, gt=0, le=300)

    @property
    def heartbeat_path(self) -> Path:
        return self.data_dir / "heartbeat.json"


class Settings(FileSettings):
    discord_token: SecretStr = Field(min_length=1)
    pixazo_api_key: SecretStr = Field(min_length=1)

    pixazo_base_url: str = "https://gateway.pixazo.ai"
    pixazo_timeout_seconds: float = Field(120.0, gt=0, le=900)
    pixazo_max_concurrency: int = Field(4, ge=1, le=1000)
    pixazo_use_stream_endpoints: bool = False
    pixazo_max_attempts: int = Field(3, ge=1, le=10)
    pixazo_retry_budget_seconds: float = Field(600.0, gt=0, le=840)
    pixazo_retry_base_delay_seconds: float = Field(1.0, ge=0, le=60)
    pixazo_max_image_bytes: int = Field(25 * MiB, ge=1024)
    pixazo_require_https_results: bool = True
    # Result URLs on loopback, private, link-local or reserved addresses are refused unless this is on.
    pixazo_result_allow_private_hosts: bool = False
    # Discord's interaction token dies 15 minutes after the command; a job must end (and refund) before.
    job_deadline_seconds: float = Field(840.0, gt=0, le=880)

    # How long one database write waits for another writer's lock before the bot calls it busy.
    database_busy_timeout_seconds: float = Field(5.0, gt=0, le=60)
    dev_guild_id: int | None = Field(None, gt=0)
    log_level: str = "INFO"
    # text: one readable line per record; json: one JSON object per line, with job/server/member/shard fields.
    log_format: Literal["text", "json"] = "text"
    # /metrics (Prometheus) and /healthz on this port; empty: no server at all. Bound to METRICS_HOST.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = Field("127.0.0.1", min_length=1)

    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str | None = None
    discord_guild_ready_timeout: float = Field(2.0, ge=0)

    quota_default_daily_credits: int = Field(20, ge=0)
    quota_model_costs: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    quota_max_jobs_per_user: int = Field(2, ge=1)  # requests in the making at once; a batch counts once
    # The most images one request may ask for (/imagine count, every model's count): each is its own job.
    batch_max_images: int = Field(4, ge=1, le=4)
    quota_global_daily_credits: int | None = Field(None, ge=0)
    # A member's own credits where no server decides (DMs, servers only the member installed the app in); 0: off.
    personal_daily_credits: int = Field(5, ge=0)

    inpaint_max_file_bytes: int = Field(10 * MiB, ge=1024)

    # Decoding, checking and re-encoding images runs on this many threads, never on the event loop.
    image_workers: int = Field(2, ge=1, le=16)
    image_work_timeout_seconds: float = Field(20.0, gt=0, le=300)
    # The image check (installed with the image-check extra): outside age-restricted channels a result
    # with one of these detector classes scoring at least the threshold (a server may set its own) is
    # held back. The check must finish within the timeout (waiting for an image thread included);
    # one that cannot is not posted, and its credits are refunded.
    image_check: bool = True  # off: never run, whatever the servers say (they see it as turned off)
    image_check_threshold: float = Field(0.6, gt=0, lt=1)
    image_check_classes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CLASSES
    image_check_timeout_seconds: float = Field(10.0, gt=0, le=120)

    # Unset: the embedded SQLite ledger in DATA_DIR. postgresql://user:pass@host:5432/db: PostgreSQL.
    database_url: SecretStr | None = None
    database_pool_size: int = Field(10, ge=1, le=100)

    # The durable job queue (issue 9 part 5): PIXAZO_MAX_CONCURRENCY jobs run at once, the rest wait.
    queue_max_length: int = Field(500, ge=1, le=100_000)  # jobs waiting bot-wide; past it, refused
    queue_max_wait_seconds: float = Field(3600.0, gt=0, le=86_400)  # a job waiting longer fails, refunded
    shutdown_grace_seconds: float = Field(8.0, ge=0, le=60)  # running calls may finish on SIGTERM
    progress_interval_seconds: float = Field(5.0, ge=0.1, le=300)  # at most one edit per job this often
    progress_max_edits_per_second: float = Field(10.0, gt=0, le=50)  # bot-wide budget of notice edits

    # Several processes, one bot (issue 13 part 9). A running job is leased to its process for this
    # long, renewed every third of it; a dead process's jobs are taken over once their leases expire.
    job_lease_seconds: float = Field(30.0, ge=3, le=600)
    # Unset: discord.py's automatic sharding (as many shards as Discord recommends, all in this process).
    shard_count: int | None = Field(None, ge=1, le=16_384)
    # Which of SHARD_COUNT's shards this process runs, "0-3" or "4,5,6,7"; unset: all of them.
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    # How often each process compares the servers' /config versions when LISTEN/NOTIFY may have missed one.
    config_poll_seconds: float = Field(30.0, ge=1, le=3600)

    # Jobs older than this many days have their prompts, parameters, input names and result links
    # cleared (at start, then daily); the credit arithmetic stays. 0 keeps everything.
    history_retention_days: int = Field(90, ge=0, le=36_500)

    # Part 8: how long a refusal's Ask a moderator button works, and how often the audit channel of
    # one server gets a message (each holds up to 10 rows; Discord allows 5 messages per 5 s a channel).
    appeal_window_seconds: float = Field(900.0, ge=60, le=86_400)
    audit_post_interval_seconds: float = Field(5.0, ge=1, le=3600)

    @field_validator("discord_token", "pixazo_api_key", mode="before")
    @classmethod
    def _secret(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        # A token never contains whitespace; a stray space or a Windows line end would make Discord
        # or Pixazo refuse it with no hint why.
        value = value.strip()
        if not value:
            raise PydanticCustomError("missing", "Field required")
        placeholder, what = PLACEHOLDERS[str(info.field_name)]
        if value == placeholder:
            raise PydanticCustomError("placeholder", "is still the placeholder from .env.example; replace it with {what}",
                                      {"what": what})
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            raise PydanticCustomError("quoted", "is wrapped in quotes, which docker --env-file keeps as part of "
                                                "the value: write it bare")
        return value

    @field_validator("pixazo_base_url", "discord_api_base_url", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if value.split("://", 1)[0] not in ("http", "https", "ws", "wss") or "://" not in value:
            raise ValueError("must be an absolute http(s) or ws(s) URL")
        return value

    @field_validator("dev_guild_id", "quota_global_daily_credits", "discord_gateway_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_count", mode="before")
    @classmethod
    def _blank_count(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            value = parse_shard_ids(value)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise ValueError('must be shard ids such as "0-3" or "4,5,6,7"')
        ids = tuple(value)
        if "shard_count" not in info.data:
            return ids  # SHARD_COUNT itself is malformed: that is the line the operator needs
        count = info.data["shard_count"]
        if count is None:
            raise ValueError("needs SHARD_COUNT: which shards are these ids out of?")
        if not ids or any(not isinstance(i, int) or not 0 <= i < count for i in ids):
            raise ValueError(f"every shard id must be from 0 to {count - 1} (SHARD_COUNT is {count})")
        if len(set(ids)) != len(ids):
            raise ValueError("lists a shard twice")
        return ids

    @field_validator("image_check_classes", mode="before")
    @classmethod
    def _classes(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip().upper() for part in value.split(",") if part.strip())
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError("must name at least one of the detector's classes, comma-separated")
        unknown = [c for c in value if c not in CLASSES]
        if unknown:
            raise ValueError(f"unknown class {unknown[0]!r}; the classes are {', '.join(CLASSES)}")
        return tuple(value)

    @field_validator("log_format", mode="before")
    @classmethod
    def _format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("quota_model_costs", mode="before")
    @classmethod
    def _costs(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object such as {"sdxl": 3}')
        unknown = sorted(set(value) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; models are {', '.join(MODELS)}")
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in value.values()):
            raise ValueError("costs must be whole numbers of credits, 0 or more")
        return value

    def default_allowance(self, member: Member) -> int:
        """A member's daily credits when nothing more specific is set: personal credits, or the server's default."""
        return self.personal_daily_credits if member.personal else self.quota_default_daily_credits

    def cost_of(self, model_key: str) -> int:
        return self.quota_model_costs.get(model_key, MODELS[model_key].cost)

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            from bot.core.database_url import DatabaseUrl

            try:
                DatabaseUrl.parse(value)
            except StoreUnavailable as exc:  # the message never repeats the URL, so never its password
                raise ValueError(str(exc).removeprefix("DATABASE_URL ")) from None
            return value.strip()
        return value

    @property
    def database_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"

    @property
    def settle_journal_path(self) -> Path:
        return self.data_dir / "settle-journal.jsonl"

    @property
    def secrets(self) -> tuple[str, ...]:
        found = (self.discord_token.get_secret_value(), self.pixazo_api_key.get_secret_value())
        # A password of a few characters would blank those letters out of every message; such a one
        # is kept out of logs by never being formatted into them in the first place.
        password = self.database_password
        return found + ((password,) if password and len(password) >= 4 else ())

    @property
    def database_password(self) -> str | None:
        """DATABASE_URL's password, so the redactor keeps it out of every log line."""
        if self.database_url is None:
            return None
        from bot.core.database_url import DatabaseUrl

        return DatabaseUrl.parse(self.database_url.get_secret_value()).password or None


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """ "0-3" or "4,5,6,7" (or both, "0-1,6"): the shard ids, in the order given."""
    ids: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError('must be shard ids such as "0-3" or "4,5,6,7"') from None
        if high < low:
            raise ValueError(f"the range {part.strip()} runs backwards")
        ids.extend(range(low, high + 1))
    return tuple(ids)


class SettingsError(Exception):
    """One line per setting that is missing or malformed, never its value: all of them, in one run."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**overrides: object) -> Settings:
    return _load(Settings, **overrides)


def load_file_settings(**overrides: object) -> FileSettings:
    return _load(FileSettings, **overrides)


def _load(kind: type[S], **overrides: object) -> S:
    try:
        return kind(**overrides)  # type: ignore[arg-type]  # pydantic validates what the caller passes
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None
    except ValueError as exc:  # a .env that cannot be parsed at all
        raise SettingsError([f"could not read the settings: {exc}"]) from None


def describe(exc: ValidationError) -> list[str]:
    lines: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        if name in lines:  # a union (int | None) fails once per member: the first says enough
            continue
        if error["type"] == "missing":
            lines[name] = f"setting {name} is missing: set it in the environment or in .env (see .env.example)"
        elif error["type"] in ("placeholder", "quoted"):
            lines[name] = f"setting {name} {error['msg']}"
        else:
            lines[name] = f"setting {name} is invalid: {error['msg'].removeprefix('Value error, ')}"
    return list(lines.values())
