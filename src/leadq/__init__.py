"""leadq: B2B sales-lead qualification over Cerebras or any OpenAI-compatible LLM, with an
embedded rules engine for offline use and fallback."""

import logging

from leadq.compat import CerebrasLeadQualifier, get_qualifier
from leadq.config import Settings, get_settings
from leadq.core.errors import (
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
from leadq.core.lead import LeadInput
from leadq.core.result import (
    Action,
    Flag,
    LeadError,
    PartialResult,
    QualificationResult,
    ResultOrError,
    Usage,
)
from leadq.qualifier import LeadQualifier, get_lead_qualifier

__version__ = "0.1.0"

# A library stays quiet until its user configures logging (`leadq serve` and the CLI do);
# without this, Python's last-resort handler printed bare event names to stderr.
logging.getLogger("leadq").addHandler(logging.NullHandler())

__all__ = [
    "Action",
    "BadProviderAnswer",
    "CerebrasLeadQualifier",
    "Flag",
    "InvalidLeadError",
    "LeadError",
    "LeadInput",
    "LeadQualifier",
    "LeadqError",
    "PartialResult",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "QualificationResult",
    "RateLimited",
    "ResultOrError",
    "Settings",
    "Usage",
    "__version__",
    "get_lead_qualifier",
    "get_qualifier",
    "get_settings",
]
