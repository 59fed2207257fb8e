"""All of leadq's configuration: one pydantic-settings class reading the environment and `.env`."""

from __future__ import annotations

import base64
import binascii
import tomllib
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadq.core.outcomes import StageTable
from leadq.core.profile import ProfileError, SellerProfile, load_profile
from leadq.core.redact import register_secret
from leadq.core.scoring import ScoreWeights
from leadq.core.variants import Variants, parse_variants

ProviderName = Literal["cerebras", "openai", "anthropic", "llamacpp", "ollama", "vllm", "rules"]
StructuredOutput = Literal["json_schema", "json_object_schema", "function_calling", "json_mode"]
ReasoningEffort = Literal["low", "medium", "high"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
EVERY_ADDRESS = ("0.0.0.0", "::")  # noqa: S104 - names to compare with, not bound here
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Every setting leadq reads. Field aliases are the environment variable names."""

    # A validation error names the setting and what is wrong, never the values given: a
    # model-level check would otherwise quote every key passed in.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
    )

    # Which backend answers, and with which model.
    provider: ProviderName | None = Field(None, validation_alias=_env("LEADQ_PROVIDER"))
    model: str | None = Field(None, validation_alias=_env("LEADQ_MODEL"))
    structured_output: StructuredOutput | None = Field(
        None, validation_alias=_env("LEADQ_STRUCTURED_OUTPUT")
    )
    prompt_version: str = Field("v3", validation_alias=_env("LEADQ_PROMPT_VERSION"))
    prompt_variants: str | None = Field(
        None,
        validation_alias=_env("LEADQ_PROMPT_VARIANTS"),
        description="Prompt experiment, e.g. `v1=0.7,v2=0.3`; default: LEADQ_PROMPT_VERSION only",
    )
    experiment_salt: str = Field(
        "prompt-ab",
        min_length=1,
        validation_alias=_env("LEADQ_EXPERIMENT_SALT"),
        description="Names the experiment: a new salt reassigns every lead to a variant",
    )

    # Provider endpoints and keys.
    cerebras_api_key: SecretStr | None = Field(None, validation_alias=_env("CEREBRAS_API_KEY"))
    cerebras_base_url: str | None = Field(None, validation_alias=_env("CEREBRAS_BASE_URL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=_env("ANTHROPIC_API_KEY"))
    anthropic_base_url: str | None = Field(
        None,
        validation_alias=_env("ANTHROPIC_BASE_URL"),
        description="Base URL of Anthropic's Messages API (requests go to its /v1/messages); "
        "default: https://api.anthropic.com",
    )
    base_url: str | None = Field(
        None,
        validation_alias=_env("LEADQ_BASE_URL"),
        description="Base URL of the local server presets (llamacpp, ollama, vllm); default: "
        "each one's usual address on 127.0.0.1",
    )

    # Call shape.
    timeout: float = Field(15.0, gt=0, validation_alias=_env("LEADQ_TIMEOUT"))
    max_retries: int = Field(2, ge=0, le=10, validation_alias=_env("LEADQ_MAX_RETRIES"))
    retry_base_delay: float = Field(
        0.5, ge=0, le=30, validation_alias=_env("LEADQ_RETRY_BASE_DELAY")
    )
    lead_deadline: float = Field(60.0, gt=0, validation_alias=_env("LEADQ_LEAD_DEADLINE"))
    max_completion_tokens: int = Field(
        1536, ge=64, le=65536, validation_alias=_env("LEADQ_MAX_COMPLETION_TOKENS")
    )
    reasoning_effort: ReasoningEffort | None = Field(
        None, validation_alias=_env("LEADQ_REASONING_EFFORT")
    )
    temperature: float = Field(0.0, ge=0, le=2, validation_alias=_env("LEADQ_TEMPERATURE"))
    max_concurrency: int = Field(16, ge=1, le=1024, validation_alias=_env("LEADQ_MAX_CONCURRENCY"))

    # Resilience: rate limits, breaker, fallbacks, escalation, cache, spend.
    rpm: float | None = Field(None, gt=0, validation_alias=_env("LEADQ_RPM"))
    tpm: float | None = Field(None, gt=0, validation_alias=_env("LEADQ_TPM"))
    breaker_threshold: int = Field(
        5, ge=1, le=1000, validation_alias=_env("LEADQ_BREAKER_THRESHOLD")
    )
    breaker_cooldown: float = Field(
        30.0, gt=0, le=3600, validation_alias=_env("LEADQ_BREAKER_COOLDOWN")
    )
    fallbacks: str = Field("", validation_alias=_env("LEADQ_FALLBACKS"))
    escalate_below: float | None = Field(
        None, ge=0, le=1, validation_alias=_env("LEADQ_ESCALATE_BELOW")
    )
    escalate_to: str | None = Field(None, validation_alias=_env("LEADQ_ESCALATE_TO"))
    route_above: float | None = Field(
        None,
        ge=0,
        le=1,
        validation_alias=_env("LEADQ_ROUTE_ABOVE"),
        description="Leads the rules engine rates at or above this overall score (0 to 1) go "
        "to LEADQ_ROUTE_TO before any call, the rest to LEADQ_PROVIDER",
    )
    route_to: str | None = Field(
        None,
        validation_alias=_env("LEADQ_ROUTE_TO"),
        description="The model for leads rated at or above LEADQ_ROUTE_ABOVE, as "
        "provider:model, e.g. openai:gpt-4o",
    )
    cache_ttl: float = Field(86400.0, ge=0, validation_alias=_env("LEADQ_CACHE_TTL"))
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    redis_prefix: str = Field(
        "leadq:",
        min_length=1,
        max_length=100,
        validation_alias=_env("LEADQ_REDIS_PREFIX"),
        description="Prefix of leadq's keys in Redis (the result cache, the shared rate limit)",
    )
    redis_timeout: float = Field(
        0.5,
        gt=0,
        le=30,
        validation_alias=_env("LEADQ_REDIS_TIMEOUT"),
        description="Seconds to wait for Redis (connect, then each command); when it fails, "
        "the cache is skipped for LEADQ_REDIS_RETRY seconds and leads are still qualified",
    )
    redis_retry: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("LEADQ_REDIS_RETRY"),
        description="Seconds the result cache leaves Redis alone after a failure",
    )
    queue_timeout: float = Field(
        300.0,
        gt=0,
        validation_alias=_env("LEADQ_QUEUE_TIMEOUT"),
        description="Seconds a lead may wait in leadq's own queue for the provider's rate "
        "limit (and 429 resets); that wait does not count toward LEADQ_LEAD_DEADLINE",
    )
    daily_budget_usd: float | None = Field(
        None, gt=0, validation_alias=_env("LEADQ_DAILY_BUDGET_USD")
    )

    # Scoring.
    score_weights: ScoreWeights = Field(
        default_factory=ScoreWeights, validation_alias=_env("LEADQ_SCORE_WEIGHTS")
    )
    icp_file: Path | None = Field(None, validation_alias=_env("LEADQ_ICP_FILE"))
    prices_file: Path | None = Field(None, validation_alias=_env("LEADQ_PRICES_FILE"))
    action_basis: Literal["score", "probability"] = Field(
        "score",
        validation_alias=_env("LEADQ_ACTION_BASIS"),
        description="What sets the recommended action: `score`, the overall score's bands; "
        "`probability`, the active conversion model's probability bands (from its training "
        "report), when a model is active",
    )
    model_max_age_days: int = Field(
        90,
        ge=1,
        validation_alias=_env("LEADQ_MODEL_MAX_AGE_DAYS"),
        description="A conversion model trained longer ago than this is reported out of date "
        "(GET /api/stats, GET /api/models/{id})",
    )

    # Outcomes recorded in the CRM's words.
    outcome_stages: str = Field(
        "",
        validation_alias=_env("LEADQ_OUTCOME_STAGES"),
        description="CRM stage names recorded as outcomes besides those of "
        "data/outcome_stages.toml, e.g. `Signed=won,Went Dark=no_response` (comma-separated "
        "`Stage=outcome` pairs; outcomes: won, lost, no_response, disqualified); they win "
        "over the defaults",
    )

    # Observability.
    log_level: LogLevel | None = Field(
        None,
        validation_alias=_env("LEADQ_LOG_LEVEL"),
        description="Log level; default INFO for `leadq serve`, WARNING for the other commands",
    )
    log_format: Literal["json", "text"] = Field(
        "json", validation_alias=_env("LEADQ_LOG_FORMAT"), description="JSON lines, or text"
    )
    log_pii: bool = Field(
        False,
        validation_alias=_env("LEADQ_LOG_PII"),
        description="Put lead names, emails and free text in log events (never keys)",
    )
    metrics_public: bool = Field(
        True,
        validation_alias=_env("LEADQ_METRICS_PUBLIC"),
        description="Serve /metrics without X-API-Key (for a Prometheus scraper)",
    )

    # Storage.
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "LEADQ_DATABASE_URL", "database_url")
    )
    data_dir: Path = Field(Path("data"), validation_alias=_env("LEADQ_DATA_DIR"))
    db_timeout: float = Field(
        10.0,
        gt=0,
        le=600,
        validation_alias=_env("LEADQ_DB_TIMEOUT"),
        description="Seconds for the database to connect, hand out a pooled connection or "
        "run one statement (PostgreSQL's statement_timeout); beyond it a request answers "
        "503 `database_unavailable`, retryable",
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        validation_alias=_env("LEADQ_RETENTION_DAYS"),
        description="Purge qualifications and provider calls older than this many days "
        "(`leadq db purge`, and on a schedule in `leadq serve`); unset: keep forever",
    )
    purge_every_hours: float = Field(
        24.0,
        gt=0,
        validation_alias=_env("LEADQ_PURGE_EVERY_HOURS"),
        description="How often `leadq serve` purges, when LEADQ_RETENTION_DAYS is set",
    )

    # HTTP service.
    api_keys: SecretStr | None = Field(None, validation_alias=_env("LEADQ_API_KEYS"))
    host: str = Field("127.0.0.1", validation_alias=_env("LEADQ_HOST"))
    port: int = Field(8001, ge=1, le=65535, validation_alias=_env("LEADQ_PORT"))
    max_body_bytes: int = Field(1_000_000, ge=1024, validation_alias=_env("LEADQ_MAX_BODY_BYTES"))
    body_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        validation_alias=_env("LEADQ_BODY_TIMEOUT"),
        description="Seconds a request body may take to start arriving, and then between its "
        "chunks; a slower client gets 408 and its connection is closed",
    )
    max_batch: int = Field(1000, ge=1, validation_alias=_env("LEADQ_MAX_BATCH"))
    max_batches: int = Field(
        8,
        ge=1,
        le=1000,
        validation_alias=_env("LEADQ_MAX_BATCHES"),
        description="Batch requests (qualify-batch, qualify-as-completed) one server process "
        "runs at once; one more answers 429 with Retry-After",
    )
    allowed_hosts: str = Field(
        "",
        validation_alias=_env("LEADQ_ALLOWED_HOSTS"),
        description="Host names the server answers to besides loopback ones, comma-separated "
        "(`*.example.com` allowed; `*` for any): a page rebound to 127.0.0.1 by DNS "
        "rebinding is refused",
    )
    docs: bool | None = Field(
        None,
        validation_alias=_env("LEADQ_DOCS"),
        description="Serve /docs, /redoc and /openapi.json; default: yes without "
        "LEADQ_API_KEYS, no with them",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        validation_alias=_env("LEADQ_WORKERS"),
        description="Worker processes for `leadq serve`, all on one port; /metrics adds "
        "their counts up (Prometheus multiprocess mode) whichever one answers",
    )

    # Webhooks out: every stored qualification, signed, to a CRM or workflow tool.
    webhook_url: str | None = Field(
        None,
        validation_alias=_env("LEADQ_WEBHOOK_URL"),
        description="POST each stored qualification here (event `lead.qualified`), signed "
        "per Standard Webhooks, from an outbox in the database; unset: no webhooks",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=_env("LEADQ_WEBHOOK_SECRET"),
        description="The signing secret, `whsec_` and base64 of 24 to 64 random bytes; "
        "required with LEADQ_WEBHOOK_URL",
    )
    webhook_retry_base: float = Field(
        30.0,
        gt=0,
        le=3600,
        validation_alias=_env("LEADQ_WEBHOOK_RETRY_BASE"),
        description="Seconds before a failed delivery is tried again; each later retry "
        "waits 4 times longer, at most 8 hours",
    )
    webhook_max_attempts: int = Field(
        8,
        ge=1,
        le=20,
        validation_alias=_env("LEADQ_WEBHOOK_MAX_ATTEMPTS"),
        description="Attempts before a delivery is marked failed (8: about a day)",
    )

    # Submitted jobs (POST /api/jobs): run by the server itself, or by `leadq worker`s.
    broker_url: str | None = Field(
        None,
        validation_alias=_env("LEADQ_BROKER_URL"),
        description="The task broker that carries submitted jobs' chunks to `leadq worker` "
        "processes: redis://... or amqp://... (RabbitMQ); unset: `leadq serve` runs jobs itself",
    )
    job_queue: str = Field(
        "leadq-jobs",
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        validation_alias=_env("LEADQ_JOB_QUEUE"),
        description="The broker queue jobs' chunks are sent to (workers listen on it by default)",
    )
    job_chunk_rows: int | None = Field(
        None,
        ge=1,
        le=100_000,
        validation_alias=_env("LEADQ_JOB_CHUNK_ROWS"),
        description="Rows per chunk of a submitted job; default 100 with an LLM, 5,000 on "
        "the rules engine",
    )
    job_lease: float = Field(
        30.0,
        ge=2,
        le=3600,
        validation_alias=_env("LEADQ_JOB_LEASE"),
        description="Seconds a runner holds a chunk without renewing it (it renews every "
        "third of it); a dead worker's chunk is taken over after this (and, on a Redis "
        "broker, its messages delivered again)",
    )
    job_slots: int = Field(
        2,
        ge=1,
        le=64,
        validation_alias=_env("LEADQ_JOB_SLOTS"),
        description="Chunks `leadq serve` runs at once when it runs jobs itself (no broker)",
    )
    server_url: str = Field(
        "http://127.0.0.1:8001",
        validation_alias=_env("LEADQ_SERVER_URL"),
        description="The server `leadq qualify --submit` and `leadq jobs` talk to",
    )
    api_key: SecretStr | None = Field(
        None,
        validation_alias=_env("LEADQ_API_KEY"),
        description="The X-API-Key `leadq qualify --submit` and `leadq jobs` send",
    )

    # CLI input files.
    max_file_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1024,
        validation_alias=_env("LEADQ_MAX_FILE_BYTES"),
        description="Larger input files are refused (exit 2)",
    )
    max_rows: int = Field(
        1_000_000,
        ge=1,
        validation_alias=_env("LEADQ_MAX_ROWS"),
        description="Files with more rows are refused (exit 2)",
    )

    @field_validator(
        "cerebras_api_key",
        "openai_api_key",
        "anthropic_api_key",
        "api_keys",
        "webhook_url",
        "webhook_secret",
        "broker_url",
        "api_key",
        mode="before",
    )
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: object) -> object:
        return value.strip().upper() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _register_secrets(self) -> Settings:
        """Every key these settings hold is redacted from every message that leaves leadq."""
        for secret in (self.cerebras_api_key, self.openai_api_key, self.anthropic_api_key):
            register_secret(secret.get_secret_value() if secret else None)
        for service_key in self.api_key_list:
            register_secret(service_key)
        for url in (self.database_url, self.redis_url, self.webhook_url, self.broker_url):
            register_secret(_url_password(url))  # a URL's password
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        if self.webhook_secret is not None:  # with and without its `whsec_` prefix
            signing = self.webhook_secret.get_secret_value()
            register_secret(signing)
            register_secret(signing.removeprefix(WEBHOOK_SECRET_PREFIX))
        return self

    @model_validator(mode="after")
    def _webhook_signable(self) -> Settings:
        """A webhook URL needs a secret to sign with, in the Standard Webhooks format. Checked
        here, after the secret is registered for redaction: a field validator's error would
        quote the value."""
        if self.webhook_url is None:
            return self
        if urlsplit(self.webhook_url).scheme not in ("http", "https"):
            raise ValueError("LEADQ_WEBHOOK_URL must be an http:// or https:// URL")
        if self.webhook_secret is None:
            raise ValueError(
                "LEADQ_WEBHOOK_URL is set but LEADQ_WEBHOOK_SECRET is not: set it to "
                "`whsec_` and base64 of random bytes, e.g. whsec_$(openssl rand -base64 32)"
            )
        if not 24 <= len(_base64(self.webhook_secret.get_secret_value())) <= 64:
            raise ValueError(
                "LEADQ_WEBHOOK_SECRET must be `whsec_` and base64 of 24 to 64 random bytes, "
                "e.g. whsec_$(openssl rand -base64 32)"
            )
        return self

    @model_validator(mode="after")
    def _variants_exist(self) -> Settings:
        self.variants  # noqa: B018 - raises ValueError naming LEADQ_PROMPT_VARIANTS
        return self

    @model_validator(mode="after")
    def _stages_valid(self) -> Settings:
        self.stage_table  # noqa: B018 - raises ValueError naming LEADQ_OUTCOME_STAGES
        return self

    @model_validator(mode="after")
    def _profile_valid(self) -> Settings:
        self.profile  # noqa: B018 - raises ValueError naming LEADQ_ICP_FILE, the key, the line
        return self

    @property
    def variants(self) -> Variants:
        """The prompt versions in use and their weights (`LEADQ_PROMPT_VARIANTS`)."""
        return parse_variants(self.prompt_variants, self.prompt_version, self.experiment_salt)

    @property
    def stage_table(self) -> StageTable:
        """CRM stage names -> outcomes: data/outcome_stages.toml, with LEADQ_OUTCOME_STAGES
        merged over it."""
        return StageTable.build(_default_stages(), self.outcome_stages)

    @cached_property
    def profile(self) -> SellerProfile:
        """The seller profile in force: LEADQ_ICP_FILE as it was when these settings were
        read (a later edit takes a restart), else the packaged default."""
        try:
            return load_profile(self.icp_file)
        except ProfileError as exc:
            raise ValueError(f"LEADQ_ICP_FILE: {exc}") from None

    @property
    def host_list(self) -> list[str]:
        """The Host names answered: loopback ones, the bind address, LEADQ_ALLOWED_HOSTS."""
        extra = [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        bound = [] if self.host in (*EVERY_ADDRESS, "") else [self.host]
        return [*LOOPBACK_HOSTS, "[::1]", *bound, *extra]

    @property
    def docs_open(self) -> bool:
        """Whether the API documents are served (LEADQ_DOCS; default: only without keys)."""
        return self.docs if self.docs is not None else not self.api_key_list

    @property
    def api_key_list(self) -> list[str]:
        """The accepted `X-API-Key` values (`LEADQ_API_KEYS`, comma-separated); empty = open."""
        if self.api_keys is None:
            return []
        return [k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()]

    @property
    def webhooks_on(self) -> bool:
        """Whether stored results are sent out as webhooks (`LEADQ_WEBHOOK_URL` is set)."""
        return self.webhook_url is not None

    @property
    def effective_database_url(self) -> str:
        """`DATABASE_URL`, else a SQLite file in `LEADQ_DATA_DIR`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'leadq.db').resolve()}"

    @property
    def effective_provider(self) -> ProviderName:
        """`LEADQ_PROVIDER`, else `cerebras` when its key is set, else the rules engine."""
        if self.provider:
            return self.provider
        return "cerebras" if self.cerebras_api_key else "rules"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


@lru_cache(maxsize=1)
def _default_stages() -> dict[str, list[str]]:
    """Outcome -> the CRM stage names that record it, as data/outcome_stages.toml lists them."""
    text = resources.files("leadq.data").joinpath("outcome_stages.toml").read_text("utf-8")
    return tomllib.loads(text)


def _base64(secret: str) -> bytes:
    """The bytes of a `whsec_...` secret; empty when it is not base64."""
    try:
        body = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        return b""


def _url_password(url: str | None) -> str | None:
    try:
        return urlsplit(url).password if url else None
    except ValueError:
        return None
