# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What never reaches an audit record: secret values, and values under secret-looking keys.

Redactor is standard library only; collect_secret_values reads ansible-core's
vault tags and so runs only on the controller.
"""

from __future__ import annotations

import contextlib
import math
import re

REDACTED = "********"

# Key names whose values are never stored, whatever the caller passes.
DEFAULT_SECRET_KEY_PATTERN = re.compile(
    r"pass(?:word|wd|phrase)|secret|token|api_?key|private_?key|credential|vault",
    re.IGNORECASE,
)
# Shorter values would mask ordinary words; such values are still redacted
# when they make up a whole field.
MIN_INLINE_SECRET_LENGTH = 4


class Redactor:
    """Replace secret values, and values under secret-looking keys, by REDACTED.

    The output contains only JSON types (dict with str keys, list, str, int,
    float, bool, None), so it can be serialised canonically.
    """

    def __init__(self, secret_values=(), secret_keys=(), key_pattern=DEFAULT_SECRET_KEY_PATTERN):
        values = {str(value) for value in secret_values if value is not None and str(value)}
        self._exact = frozenset(values)
        inline = sorted(
            (value for value in values if len(value) >= MIN_INLINE_SECRET_LENGTH),
            key=len,
            reverse=True,
        )
        self._inline = (
            re.compile("|".join(re.escape(value) for value in inline)) if inline else None
        )
        self._secret_keys = frozenset(str(key).lower() for key in secret_keys)
        self._key_pattern = key_pattern

    def is_secret_key(self, key: str) -> bool:
        lowered = key.lower()
        if lowered in self._secret_keys:
            return True
        return bool(self._key_pattern and self._key_pattern.search(lowered))

    def redact_text(self, text: str) -> str:
        if text in self._exact:
            return REDACTED
        if self._inline is not None:
            return self._inline.sub(REDACTED, text)
        return text

    def mask_strings(self, value, _depth: int = 0):
        """``value`` with every secret masked inside its strings; keys, types and shape kept.

        For results that later tasks read: unlike a record, nothing is dropped
        for its key's name or turned into JSON types.
        """
        if isinstance(value, str):
            return self.redact_text(value)
        if _depth > 64:
            return value
        if isinstance(value, dict):
            return {key: self.mask_strings(item, _depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask_strings(item, _depth + 1) for item in value]
        if isinstance(value, tuple):
            return tuple(self.mask_strings(item, _depth + 1) for item in value)
        return value

    def __call__(self, value, _depth: int = 0):
        if _depth > 64:
            return REDACTED  # a structure this deep is not a summary; refuse to guess
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return REDACTED if str(value) in self._exact else int(value)
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                return str(value)
            return REDACTED if repr(value) in self._exact else float(value)
        if isinstance(value, str):
            return self.redact_text(str(value))
        if isinstance(value, bytes):
            return self.redact_text(value.decode("utf-8", "replace"))
        if isinstance(value, dict):
            redacted = {}
            for key, item in value.items():
                key_text = self.redact_text(str(key))
                if self.is_secret_key(str(key)) and item is not None and not isinstance(item, bool):
                    redacted[key_text] = REDACTED
                else:
                    redacted[key_text] = self(item, _depth + 1)
            return redacted
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return [self(item, _depth + 1) for item in items]
        return self.redact_text(str(value))


# Variables that mirror or describe others; walking them would repeat work
# (hostvars holds every host) without finding any secret not found directly.
_MAGIC_VARIABLES = frozenset(
    {
        "hostvars",
        "vars",
        "groups",
        "group_names",
        "omit",
        "play_hosts",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_batch",
        "ansible_facts",
        "environment",
    }
)


_VAULT_FILE_CACHE: dict[str, bool] = {}


def _is_vault_file(path: str) -> bool:
    if path not in _VAULT_FILE_CACHE:
        try:
            with open(path, "rb") as handle:
                _VAULT_FILE_CACHE[path] = handle.read(14) == b"$ANSIBLE_VAULT"
        except OSError:
            _VAULT_FILE_CACHE[path] = False
    return _VAULT_FILE_CACHE[path]


def collect_secret_values(variables, secret_var_names=(), render=None) -> set[str]:
    """Plaintexts of vault-encrypted values, and values of variables named as secret.

    ``variables`` is a host's variables on the controller; ``render`` optionally
    turns a templated value of a named secret variable into its real value.
    Runs only where ansible-core is importable (the controller).
    """
    # Imported here so that the verifier CLI needs nothing but the standard library.
    from ansible.parsing.vault import VaultHelper

    try:
        # Values of a fully encrypted vars file carry no vault tag of their own,
        # only the file they came from; ansible-core has no public API for it.
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # pragma: no cover - other ansible-core versions
        Origin = None

    names = frozenset(secret_var_names or ())
    found: set[str] = set()

    def _walk(value, depth: int, named_secret: bool) -> None:
        if depth > 32:
            return
        if VaultHelper.get_ciphertext(value, with_tags=False) is not None:
            # A value that cannot be decrypted cannot leak either.
            with contextlib.suppress(Exception):
                found.add(str(value))
            return
        if isinstance(value, dict):
            for item in value.values():
                _walk(item, depth + 1, named_secret)
        elif isinstance(value, (list, tuple)):
            for item in value:
                _walk(item, depth + 1, named_secret)
        elif named_secret and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found.add(str(value))
        elif isinstance(value, str) and Origin is not None:
            origin = Origin.get_tag(value)
            if origin is not None and origin.path and _is_vault_file(origin.path):
                found.add(str(value))

    for name, value in variables.items():
        if name in _MAGIC_VARIABLES:
            continue
        named_secret = name in names
        if named_secret and render is not None and isinstance(value, str) and "{{" in value:
            found.add(str(value))
            # The raw template text is redacted even when it cannot be rendered.
            with contextlib.suppress(Exception):
                value = render(value)
        _walk(value, 0, named_secret)
    found.discard("")
    return found
