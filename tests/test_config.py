import pytest
from pydantic import SecretStr

import leadq
from leadq.backends.factory import make_backend
from leadq.backends.llm import LLMBackend
from leadq.config import Settings
from leadq.core.errors import ProviderNotConfigured


def test_default_is_rules_without_a_key() -> None:
    assert Settings().effective_provider == "rules"


def test_default_is_cerebras_with_a_key(monkeypatch) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-123")
    settings = Settings()
    assert settings.effective_provider == "cerebras"
    backend = make_backend(settings)
    assert (backend.provider, backend.model) == ("cerebras", "gpt-oss-120b")


def test_blank_key_counts_as_unset(monkeypatch) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "  ")
    assert Settings().effective_provider == "rules"


def test_secrets_never_in_repr(monkeypatch) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-supersecret")
    settings = Settings()
    backend = make_backend(settings)
    llm = backend.unwrap()  # behind the router (breaker, fallbacks)
    assert isinstance(llm, LLMBackend)
    qualifier = leadq.LeadQualifier(settings)
    for text in (
        repr(settings),
        str(settings),
        repr(backend),
        repr(llm),
        repr(qualifier),
        repr(llm._model(None)),
        str(backend.describe()),
    ):
        assert "csk-supersecret" not in text


def test_missing_key_names_the_variable_and_the_offline_way() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        make_backend(Settings(provider="cerebras"))
    assert "CEREBRAS_API_KEY" in str(info.value)
    assert "LEADQ_PROVIDER=rules" in str(info.value)


def test_anthropic_reads_its_own_variables_and_never_shows_its_key(monkeypatch) -> None:
    monkeypatch.setenv("LEADQ_PROVIDER", "anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-supersecret")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    settings = Settings()
    backend = make_backend(settings)
    llm = backend.unwrap()
    assert isinstance(llm, LLMBackend)
    assert (llm.provider, llm.model) == ("anthropic", "claude-haiku-4-5")
    step = llm._model(None)
    assert step.url == "http://127.0.0.1:9/v1/messages"
    assert step.headers["x-api-key"] == "sk-ant-supersecret"  # there, so the test can fail
    for text in (repr(settings), str(settings), repr(llm), repr(step), str(backend.describe())):
        assert "sk-ant-supersecret" not in text


def test_anthropic_without_a_key_names_the_variable_and_the_offline_way() -> None:
    with pytest.raises(ProviderNotConfigured) as info:
        make_backend(Settings(provider="anthropic"))
    assert "ANTHROPIC_API_KEY" in str(info.value)
    assert "LEADQ_PROVIDER=rules" in str(info.value)


def test_local_openai_compatible_server_needs_no_key() -> None:
    backend = make_backend(Settings(provider="openai", openai_base_url="http://127.0.0.1:9/v1"))
    assert backend.provider == "openai"


def test_weights_from_env_json(monkeypatch) -> None:
    monkeypatch.setenv(
        "LEADQ_SCORE_WEIGHTS", '{"fit": 1, "budget": 0, "urgency": 0, "authority": 0}'
    )
    assert Settings().score_weights.fit == 1


def test_key_is_secretstr() -> None:
    assert isinstance(Settings(cerebras_api_key="x").cerebras_api_key, SecretStr)
