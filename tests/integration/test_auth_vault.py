"""The JWT signing secret from a real Vault API (OpenBao dev server, KV v2 at secret/) on loopback.

The environment variable wins over Vault; a token signed with the Vault
secret authenticates, one signed with another secret does not; a missing
secret or key is reported as the JWT signing secret, not as a provider key.
"""

from __future__ import annotations

import hvac
import pytest

from empathy.config import SecretRef
from empathy.errors import UserError
from empathy.serve.auth import AuthError, Authenticator, JWTSettings, JWTVerifier, Principal, create_token
from tests.services import vault

pytestmark = pytest.mark.integration

VAULT_SECRET = "v" * 40 + "-from-vault"


@pytest.fixture(scope="module")
def vault_api(tmp_path_factory):
    with vault(tmp_path_factory.mktemp("vault")) as handle:
        client = hvac.Client(url=handle.url, token=handle.token)
        client.secrets.kv.v2.create_or_update_secret(path="empathy/serve/jwt", secret={"jwt_secret": VAULT_SECRET},
                                                     mount_point="secret")
        yield handle


@pytest.fixture
def settings(vault_api, monkeypatch):
    monkeypatch.delenv("EMPATHY_JWT_SECRET", raising=False)
    monkeypatch.setenv("VAULT_ADDR", vault_api.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_api.token)
    return JWTSettings(issuer="https://id.example",
                       secret_ref=SecretRef(env="EMPATHY_JWT_SECRET", vault_path="empathy/serve/jwt",
                                            vault_key="jwt_secret"))


def test_token_signed_with_the_vault_secret_authenticates(settings):
    auth = Authenticator(jwt=JWTVerifier(settings))
    good = create_token("dr-okafor", "therapist", VAULT_SECRET, issuer="https://id.example")
    assert auth.authenticate({"Authorization": f"Bearer {good}"}) == Principal("dr-okafor", "therapist", "jwt")
    other = create_token("dr-okafor", "therapist", "o" * 48, issuer="https://id.example")
    with pytest.raises(AuthError, match="signature invalid"):
        auth.authenticate({"Authorization": f"Bearer {other}"})


def test_environment_wins_over_vault(settings, monkeypatch):
    monkeypatch.setenv("EMPATHY_JWT_SECRET", "e" * 48)
    auth = Authenticator(jwt=JWTVerifier(settings))

    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token('u', 'client', secret, issuer='https://id.example')}"}

    with pytest.raises(AuthError, match="signature invalid"):
        auth.authenticate(bearer(VAULT_SECRET))
    assert auth.authenticate(bearer("e" * 48)).role == "client"


def test_missing_vault_secret_is_named_as_the_jwt_secret(settings):
    ref = SecretRef(env="EMPATHY_JWT_SECRET", vault_path="empathy/serve/nope", vault_key="jwt_secret")
    with pytest.raises(UserError) as info:
        JWTVerifier(JWTSettings(secret_ref=ref))
    message = str(info.value)
    assert message.startswith("JWT signing secret: Vault secret secret/empathy/serve/nope does not exist")
    assert "provider" not in message and "EMPATHY_JWT_SECRET is not set" in message


def test_wrong_key_name_lists_keys_not_values(settings):
    ref = SecretRef(env="EMPATHY_JWT_SECRET", vault_path="empathy/serve/jwt", vault_key="signing_key")
    with pytest.raises(UserError) as info:
        JWTVerifier(JWTSettings(secret_ref=ref))
    assert "has no key 'signing_key'" in str(info.value) and "keys present: jwt_secret" in str(info.value)
    assert VAULT_SECRET not in str(info.value) and "provider" not in str(info.value)
