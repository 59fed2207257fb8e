"""leadq: B2B sales-lead qualification over Cerebras or any OpenAI-compatible LLM, with an
embedded rules engine for offline use and fallback."""

from leadq.config import Settings, get_settings
from leadq.errors import (
    BadProviderAnswer,
    InvalidLeadError,
    LeadqError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from leadq.qualifier import LeadQualifier, get_qualifier
from leadq.schemas.lead import LeadInput
from leadq.schemas.result import (
    Action,
    Flag,
    LeadError,
    Outcome,
    PartialResult,
    QualificationResult,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "BadProviderAnswer",
    "Flag",
    "InvalidLeadError",
    "LeadError",
    "LeadInput",
    "LeadQualifier",
    "LeadqError",
    "Outcome",
    "PartialResult",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "QualificationResult",
    "RateLimited",
    "Settings",
    "Usage",
    "get_qualifier",
    "get_settings",
    "__version__",
]
