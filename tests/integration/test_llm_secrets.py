"""LLM API keys from a real Vault API (OpenBao in dev mode, KV v2 at secret/) on loopback.

Checks the order (environment first, then Vault), the errors a user sees for
a missing secret, a missing key in it, a token without access and an
unreachable Vault, and a provider built from a Vault key sending that key to
a loopback fake of the OpenAI API (the paid API cannot be reached from here).
"""

from __future__ import annotations

import hvac
import openai  # noqa: F401  (a second to import: paid at collection, not inside a test)
import pytest

from empathy.config import ProviderConfig, SecretRef
from empathy.errors import UserError
from empathy.llm.providers import make_provider
from empathy.llm.secrets import resolve_api_key
from empathy.llm.types import ChatRequest
from tests.conftest import free_port
from tests.llm_fakes import FakeLLMServer
from tests.services import vault

pytestmark = pytest.mark.integration

VAULT_KEY = "sk-from-vault-42"


@pytest.fixture(scope="module")
def vault_api(tmp_path_factory):
    with vault(tmp_path_factory.mktemp("vault")) as handle:
        client = hvac.Client(url=handle.url, token=handle.token)
        client.secrets.kv.v2.create_or_update_secret(path="empathy/llm/openai", secret={"api_key": VAULT_KEY},
                                                     mount_point="secret")
        client.secrets.kv.v2.create_or_update_secret(path="empathy/llm/other", secret={"token": "t0p-secret"},
                                                     mount_point="secret")
        # A token that may read nothing: the default policy grants no access to secret/.
        limited = client.auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
        yield handle, limited


@pytest.fixture
def vault_env(vault_api, monkeypatch):
    handle, _ = vault_api
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAULT_ADDR", handle.url)
    monkeypatch.setenv("VAULT_TOKEN", handle.token)
    return vault_api


def test_key_from_vault_when_env_is_unset(vault_env):
    assert resolve_api_key("openai", SecretRef(vault_path="empathy/llm/openai")) == VAULT_KEY


def test_env_var_wins_over_vault(vault_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert resolve_api_key("openai", SecretRef(vault_path="empathy/llm/openai")) == "sk-from-env"


def test_custom_vault_key_name(vault_env):
    ref = SecretRef(vault_path="empathy/llm/other", vault_key="token")
    assert resolve_api_key("anthropic", ref) == "t0p-secret"


def test_missing_secret_names_the_path(vault_env):
    with pytest.raises(UserError) as info:
        resolve_api_key("openai", SecretRef(vault_path="empathy/llm/nope"))
    message = str(info.value)
    assert "provider openai" in message and "secret/empathy/llm/nope does not exist" in message
    assert "OPENAI_API_KEY is not set" in message


def test_missing_key_in_secret_lists_key_names_not_values(vault_env):
    with pytest.raises(UserError) as info:
        resolve_api_key("openai", SecretRef(vault_path="empathy/llm/other"))
    message = str(info.value)
    assert "has no key 'api_key'" in message and "keys present: token" in message
    assert "t0p-secret" not in message


def test_token_without_access_is_named(vault_env, monkeypatch):
    _, limited = vault_env
    monkeypatch.setenv("VAULT_TOKEN", limited)
    with pytest.raises(UserError, match="VAULT_TOKEN may not read Vault secret secret/empathy/llm/openai"):
        resolve_api_key("openai", SecretRef(vault_path="empathy/llm/openai"))


def test_unreachable_vault_is_named(vault_env, monkeypatch):
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError, match="cannot reach Vault at http://127.0.0.1"):
        resolve_api_key("openai", SecretRef(vault_path="empathy/llm/openai"))


def test_missing_vault_token_is_named(vault_env, monkeypatch, tmp_path):
    monkeypatch.delenv("VAULT_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token to fall back on
    with pytest.raises(UserError, match="VAULT_TOKEN is not set"):
        resolve_api_key("openai", SecretRef(vault_path="empathy/llm/openai"))


def test_provider_sends_the_vault_key_to_a_loopback_openai_fake(vault_env):
    with FakeLLMServer(api_key=VAULT_KEY) as fake:
        provider = make_provider(ProviderConfig(
            name="openai", model="gpt-test", base_url=fake.openai_base_url,
            api_key=SecretRef(vault_path="empathy/llm/openai")))
        completion = provider.complete(ChatRequest(id="v", messages=[{"role": "user", "content": "hello"}]))
    assert completion.text == "echo gpt-test: hello"
    assert fake.requests[0].headers["authorization"] == f"Bearer {VAULT_KEY}"
