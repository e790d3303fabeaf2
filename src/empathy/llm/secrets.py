"""API keys for the LLM providers: an environment variable first, else a Vault KV v2 secret.

Keys never belong in config files. A provider's `api_key` section (a
`SecretRef`) says where its key lives:

    provider:
      name: openai
      api_key: {env: OPENAI_API_KEY, vault_path: empathy/llm/openai}

`resolve_api_key` reads the environment variable (`ref.env`, else the
provider's default such as OPENAI_API_KEY); when it is unset or empty and
`ref.vault_path` is set, it reads `ref.vault_key` from the KV v2 secret at
`ref.vault_mount`/`ref.vault_path`, with the Vault address and token taken
from VAULT_ADDR and VAULT_TOKEN (hvac also falls back to ~/.vault-token).

In the cluster the key normally arrives as an environment variable from a
Kubernetes Secret (synced from Vault by the Vault Secrets Operator or the
agent injector), so the environment-first order covers it without Vault
access from the pod. Logging in to Vault with the pod's service account
(Vault's Kubernetes auth method) is not implemented here.

Keys are never logged and never appear in error messages; the messages name
the provider, the variable and the Vault path instead.
"""

from __future__ import annotations

import logging
import os

from empathy.config import SecretRef
from empathy.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "ollama": "OLLAMA_API_KEY",
    "empathy": "EMPATHY_API_KEY",
}

# Ollama and our own server run without authentication unless put behind a proxy that wants a key.
KEY_REQUIRED = frozenset({"openai", "anthropic"})


def env_var_for(provider_name: str, ref: SecretRef) -> str | None:
    """The environment variable consulted for this provider's key."""
    return ref.env or DEFAULT_ENV.get(provider_name)


def resolve_api_key(provider_name: str, ref: SecretRef) -> str | None:
    """The provider's API key, or None when the provider needs none and none is configured.

    Raises UserError when a required key is in neither place, or when the
    configured Vault secret cannot be read.
    """
    env_name = env_var_for(provider_name, ref)
    if env_name:
        value = os.environ.get(env_name, "").strip()
        if value:
            log.debug("provider %s: API key from environment variable %s", provider_name, env_name)
            return value
    if ref.vault_path:
        value = _read_vault_key(provider_name, ref)
        log.debug("provider %s: API key from Vault %s/%s", provider_name, ref.vault_mount, ref.vault_path)
        return value
    if provider_name in KEY_REQUIRED:
        raise UserError(
            f"provider {provider_name}: no API key: environment variable {env_name} is not set and no Vault path "
            f"is configured (set {env_name}, or provider.api_key.vault_path to a KV v2 secret with key "
            f"'{ref.vault_key}', with VAULT_ADDR and VAULT_TOKEN set)"
        )
    return None


def _read_vault_key(provider_name: str, ref: SecretRef) -> str:
    import hvac
    import hvac.exceptions
    import requests

    where = f"Vault secret {ref.vault_mount}/{ref.vault_path}"
    env_hint = f" (environment variable {env_var_for(provider_name, ref)} is not set either)"
    addr = os.environ.get("VAULT_ADDR", "").strip()
    if not addr:
        raise UserError(f"provider {provider_name}: API key is to come from {where}, but VAULT_ADDR is not set"
                        f"{env_hint}")
    client = hvac.Client(url=addr, token=os.environ.get("VAULT_TOKEN") or None, timeout=10)
    if not client.token:
        raise UserError(f"provider {provider_name}: API key is to come from {where} at {addr}, "
                        f"but VAULT_TOKEN is not set{env_hint}")
    try:
        response = client.secrets.kv.v2.read_secret_version(
            path=ref.vault_path, mount_point=ref.vault_mount, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        raise UserError(f"provider {provider_name}: {where} does not exist at {addr} (KV v2 mount '{ref.vault_mount}', "
                        f"path '{ref.vault_path}'){env_hint}") from None
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
        raise UserError(f"provider {provider_name}: VAULT_TOKEN may not read {where} at {addr} (permission denied)"
                        f"{env_hint}") from None
    except hvac.exceptions.VaultError as exc:
        raise UserError(f"provider {provider_name}: reading {where} at {addr} failed: {type(exc).__name__}: {exc}"
                        f"{env_hint}") from None
    except requests.exceptions.RequestException as exc:
        raise UserError(f"provider {provider_name}: cannot reach Vault at {addr} to read {where}: "
                        f"{type(exc).__name__}{env_hint}") from None
    data = ((response or {}).get("data") or {}).get("data") or {}
    value = data.get(ref.vault_key)
    if not isinstance(value, str) or not value.strip():
        keys = ", ".join(sorted(data)) or "none"
        raise UserError(f"provider {provider_name}: {where} at {addr} has no key '{ref.vault_key}' "
                        f"(keys present: {keys}; set provider.api_key.vault_key){env_hint}")
    return value.strip()
