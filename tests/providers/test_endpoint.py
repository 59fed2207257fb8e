"""Who a request goes to: the local server presets' addresses, `LEADQ_BASE_URL`, and which
providers demand a key."""

from __future__ import annotations

import pytest

from leadq.config import Settings
from leadq.core.errors import ProviderNotConfigured
from leadq.providers.catalog import providers
from leadq.providers.endpoint import endpoint_for

USUAL_URLS = {
    "llamacpp": "http://127.0.0.1:8080/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
}


def test_a_local_preset_calls_its_usual_address_with_no_key_a_hosted_one_needs_its_key() -> None:
    for preset, url in USUAL_URLS.items():
        endpoint = endpoint_for(Settings(provider=preset), providers()[preset])
        assert (endpoint.base_url, endpoint.bearer) == (url, None), preset
    with pytest.raises(ProviderNotConfigured, match="OPENAI_API_KEY"):
        endpoint_for(Settings(provider="openai"), providers()["openai"])


def test_leadq_base_url_points_the_local_presets_elsewhere_not_a_hosted_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADQ_BASE_URL", "http://10.0.0.5:9000/v1")
    for preset in USUAL_URLS:
        monkeypatch.setenv("LEADQ_PROVIDER", preset)
        endpoint = endpoint_for(Settings(), providers()[preset])
        assert endpoint.base_url == "http://10.0.0.5:9000/v1", preset
    hosted = Settings(provider="openai", openai_api_key="sk-test")
    assert endpoint_for(hosted, providers()["openai"]).base_url == "https://api.openai.com/v1"
